/* consentkit: the signature canvas shared by the family sign page and the staff countersign page.
   Loaded right after the vendored signature_pad; exposes window.ConsentkitSignature.
   No inline script anywhere (the pages' Content-Security-Policy forbids it). */
(function () {
  "use strict";

  /** Attach signature_pad to a canvas, keep the drawing sharp and intact on resize. */
  function attach(canvas, clearButton) {
    const pad = new window.SignaturePad(canvas, {
      minWidth: 0.8,
      maxWidth: 2.8,
      penColor: "#1b1b1b",
    });

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
      // Phones resize on scroll (the address bar): redraw only when the width changes.
      if (canvas.offsetWidth !== lastWidth) {
        lastWidth = canvas.offsetWidth;
        fit();
      }
    });
    fit();
    if (clearButton) {
      clearButton.addEventListener("click", function () {
        pad.clear();
      });
    }
    return pad;
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

  window.ConsentkitSignature = { attach: attach, toStrokes: toStrokes };
})();
