/* consentkit staff pages: the few things a server-rendered form cannot do on its own.
   - [data-print] buttons print the page (recovery codes, invitations);
   - the countersignature canvas (vendored signature_pad) fills the hidden "strokes" field;
   - "declined to give a reason" disables the reason box.
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

  const declined = document.getElementById("reason_declined");
  const reason = document.getElementById("reason");
  if (declined && reason) {
    const sync = function () {
      reason.disabled = declined.checked;
    };
    declined.addEventListener("change", sync);
    sync();
  }

  /** signature_pad's point groups to the API's strokes: [[x, y, t_ms], ...] per stroke. */
  function toStrokes(groups) {
    const limit = 4096;
    const clamp = function (v) {
      return Math.min(limit, Math.max(0, Math.round(v * 10) / 10));
    };
    let start = null;
    return groups
      .map(function (group) {
        return group.points.map(function (point) {
          if (start === null) {
            start = point.time;
          }
          return [clamp(point.x), clamp(point.y), Math.max(0, Math.round(point.time - start))];
        });
      })
      .filter(function (stroke) {
        return stroke.length > 0;
      });
  }

  const form = document.getElementById("countersign-form");
  const canvas = document.getElementById("signature-canvas");
  if (!form || !canvas || !window.SignaturePad) {
    return;
  }
  const pad = new window.SignaturePad(canvas, { minWidth: 0.8, maxWidth: 2.8, penColor: "#1b1b1b" });
  const problem = document.getElementById("signature-error");

  function fit() {
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    const drawn = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(drawn);
  }

  let lastWidth = canvas.offsetWidth;
  window.addEventListener("resize", function () {
    if (canvas.offsetWidth !== lastWidth) {
      lastWidth = canvas.offsetWidth;
      fit();
    }
  });
  fit();

  document.getElementById("clear-signature").addEventListener("click", function () {
    pad.clear();
  });
  form.addEventListener("submit", function (event) {
    if (pad.isEmpty()) {
      event.preventDefault();
      problem.textContent = form.getAttribute("data-empty-message");
      problem.hidden = false;
      canvas.focus();
      return;
    }
    problem.hidden = true;
    document.getElementById("strokes").value = JSON.stringify(toStrokes(pad.toData()));
  });
})();
