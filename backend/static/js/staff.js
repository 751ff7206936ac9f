/* consentkit staff pages: the few things a server-rendered form cannot do on its own.
   - [data-print] buttons print the page (recovery codes, invitations);
   - the countersignature and witness canvas (vendored signature_pad) fills the hidden
     "strokes" field;
   - "declined to give a reason" disables the reason box;
   - the phone fields' example number follows the chosen site.
   No inline script anywhere (the pages' Content-Security-Policy forbids it). */
(function () {
  "use strict";

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  each("[data-print]", function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });

  // The phone fields' example follows the chosen site's country (the server gives each
  // site's example in data-phone-example; nothing is worked out here).
  const siteChoice = document.getElementById("site");
  if (siteChoice) {
    siteChoice.addEventListener("change", function () {
      const chosen = siteChoice.options[siteChoice.selectedIndex];
      const example = chosen && chosen.getAttribute("data-phone-example");
      if (example) {
        each("[data-phone-field]", function (field) {
          field.setAttribute("placeholder", example);
        });
      }
    });
  }

  const declined = document.getElementById("reason_declined");
  const reason = document.getElementById("reason");
  if (declined && reason) {
    const sync = function () {
      reason.disabled = declined.checked;
    };
    declined.addEventListener("change", sync);
    sync();
  }

  // The countersignature, the impartial witness's signature and a young child's drawing in
  // front of staff share one canvas script.
  const form =
    document.getElementById("countersign-form") ||
    document.getElementById("witness-form") ||
    document.getElementById("child-assent-form");
  const canvas = document.getElementById("signature-canvas");
  if (!form || !canvas || !window.ConsentkitSignature) {
    return;
  }
  const signature = window.ConsentkitSignature;
  const pad = signature.attach(canvas, document.getElementById("clear-signature"));
  const problem = document.getElementById("signature-error");
  form.addEventListener("submit", function (event) {
    // A child who writes their first name instead of drawing sends no strokes.
    const typed = form.querySelector("[data-method][value=typed]:checked");
    if (typed) {
      document.getElementById("strokes").value = "";
      return;
    }
    if (pad.isEmpty()) {
      event.preventDefault();
      problem.textContent = form.getAttribute("data-empty-message");
      problem.hidden = false;
      canvas.focus();
      return;
    }
    problem.hidden = true;
    document.getElementById("strokes").value = JSON.stringify(signature.toStrokes(pad.toData()));
  });
})();
