"""Accessibility checks run inside a page: axe-core (vendored) and reflow (WCAG 1.4.10, 1.4.4).

axe-core is read from ``tests/browser/vendor/axe-core/axe.min.js`` and evaluated in the
page through the DevTools protocol, which the page's Content-Security-Policy does not
govern: the pages keep their real policy during the walk, so a violation of it still
fails the test. Nothing is fetched at test time. See docs/accessibility.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
#: What fails a test; "moderate" and "minor" findings are printed by docs/accessibility.md's
#: manual review, not here.
FAILING_IMPACTS = ("serious", "critical")
#: WCAG 1.4.10: content reflows at 320 CSS px (a 1280 px window at 400%).
NARROW = {"width": 320, "height": 640}
#: WCAG 1.4.4 at 200%: a 1280 px window zoomed 200% is 640 CSS px, with text twice its size.
ZOOMED = {"width": 640, "height": 800}

_RUN_AXE = """
async (tags) => {
  const results = await window.axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}
"""

_OVERFLOW = """
(selectors) => {
  const root = document.scrollingElement;
  const width = root.clientWidth;
  const wide = [];
  // A box that scrolls its own overflow (a wide table in its scroll region) is allowed
  // (WCAG 1.4.10 excepts data tables): what is inside it does not widen the page.
  const scrolledInside = (el) => {
    // An absolutely placed box escapes a scroll box that is not its containing block.
    if (["absolute", "fixed"].includes(getComputedStyle(el).position)) return false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (el.checkVisibility && !el.checkVisibility()) continue;  // in a closed <details>
    if ((box.right > width + 1 || box.left < -1) && !scrolledInside(el)) {
      // Name the outermost culprits only: children of a too-wide element are noise.
      if (!wide.some((w) => w.el.contains(el))) {
        const classes = typeof el.className === "string" && el.className
          ? "." + el.className.split(" ").join(".") : "";
        const words = el.id || classes ? "" : ' "' + el.textContent.trim().slice(0, 30) + '"';
        wide.push({el, what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes +
          words + " [" + Math.round(box.left) + ", " + Math.round(box.right) + "]"});
      }
    }
  }
  if (wide.length === 0) {
    // Text wider than its box (a long word, nowrap) widens the page without a wide box.
    for (const el of document.body.querySelectorAll("*")) {
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 &&
          getComputedStyle(el).overflowX === "visible" &&
          ![...el.children].some((c) => c.scrollWidth > c.clientWidth + 1)) {
        wide.push({el, what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
          " (text " + el.scrollWidth + " px in " + el.clientWidth + " px)"});
      }
    }
  }
  const outside = [];
  for (const selector of selectors) {
    for (const el of document.querySelectorAll(selector)) {
      const box = el.getBoundingClientRect();
      if (box.width === 0) continue;  // not shown at this step
      if (box.left < 0 || box.right > width + 1) outside.push(selector);
    }
  }
  return {scroll: root.scrollWidth, client: width, wide: wide.map((w) => w.what), outside};
}
"""

#: The signature area: drawn, typed or a child's name; it must fit the narrowest screen.
SIGNATURE_AREA = ("#signature-canvas", "#printed-name", "#child-name", "#submit-signature")


@dataclass
class A11yReport:
    """Problems found on the pages of a walk, printed together at the end."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def axe(self, page: Any, name: str) -> None:
        """Run axe-core on the page as it is now; keep each serious or critical violation."""
        self.checked.append(name)
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(AXE_JS.read_text(encoding="utf-8"))
        for violation in page.evaluate(_RUN_AXE, AXE_TAGS):
            if violation["impact"] not in FAILING_IMPACTS:
                continue
            nodes = "; ".join(
                f"{node['target']} ({' '.join(node['summary'].split())})"
                for node in violation["nodes"][:5]
            )
            self.problems.append(
                f"{name}: axe {violation['impact']} {violation['id']}: {violation['help']}"
                f" -- {nodes}"
            )

    def reflow(self, page: Any, name: str) -> None:
        """At 320 CSS px, and at 640 CSS px with text at 200%: no sideways scrolling."""
        viewport = page.viewport_size
        try:
            page.set_viewport_size(NARROW)
            self._fits(page, f"{name} at 320 px")
            page.set_viewport_size(ZOOMED)
            page.evaluate("document.documentElement.style.fontSize = '200%'")
            self._fits(page, f"{name} at 200% text")
        finally:
            page.evaluate("document.documentElement.style.removeProperty('font-size')")
            page.set_viewport_size(viewport)

    def _fits(self, page: Any, name: str) -> None:
        page.evaluate("new Promise((done) => requestAnimationFrame(() => done(null)))")
        found = page.evaluate(_OVERFLOW, list(SIGNATURE_AREA))
        if found["scroll"] > found["client"]:
            self.problems.append(
                f"{name}: scrolls sideways ({found['scroll']} > {found['client']} px):"
                f" {', '.join(found['wide'][:6])}"
            )
        for selector in found["outside"]:
            self.problems.append(f"{name}: the signature area {selector} does not fit")

    def assert_clean(self) -> None:
        """Fail with every problem, one a line."""
        assert not self.problems, "\n" + "\n".join(self.problems)


class RenderedTemplates:
    """The page templates the live server rendered, in order (Flask's template_rendered)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def _record(self, _app: Any, template: Any, **_extra: Any) -> None:
        self.names.append(str(template.name))

    @contextmanager
    def recording(self, app: Any) -> Iterator[RenderedTemplates]:
        """Record the templates ``app`` renders while the block runs."""
        from flask import template_rendered

        template_rendered.connect(self._record, app)
        try:
            yield self
        finally:
            template_rendered.disconnect(self._record, app)

    def take(self) -> list[str]:
        """Return the templates rendered since the last call, and forget them."""
        taken, self.names = self.names, []
        return taken
