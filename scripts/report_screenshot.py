"""Open a report.html in headless Chromium: a screenshot of the first screenful, and where the
headline table and the first figure sit on the page (issue 14: both within the first screenful).

    python scripts/report_screenshot.py rfbench-out/toy2d/report.html --out first-screen.png
    python scripts/report_screenshot.py REPORT --browser /usr/bin/chromium --width 1280 --height 800

It needs a Chromium or Chrome binary: ``--browser PATH``, else ``$RFBENCH_CHROMIUM``, else the first of
chromium, chromium-browser, google-chrome, google-chrome-stable, chrome on the PATH. Only the binary:
the layout is read by running the browser twice, once with ``--screenshot`` and once with
``--dump-dom`` on a copy of the page that measures itself on load and writes the figures into a
``<pre id="rfbench-layout">`` element. Exit status 0: both the headline and the first figure start
within the first screenful; 1: one does not (printed); 2: no browser or the page could not be read.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Runs in the page after load: the top (CSS px from the top of the page) of the first heading that
# names the headline, of the first table after it, and of the first figure.
MEASURE = """
<script>
window.addEventListener("load", function () {
  function top(el) { return el ? el.getBoundingClientRect().top + window.scrollY : null; }
  var heads = Array.prototype.slice.call(document.querySelectorAll("h1, h2, h3"));
  var headline = heads.filter(function (h) { return /headline/i.test(h.textContent); })[0] || null;
  var table = null;
  if (headline) {
    var all = Array.prototype.slice.call(document.querySelectorAll("table"));
    table = all.filter(function (t) {
      return headline.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING; })[0] || null;
  }
  var out = {headline: top(headline), headline_table: top(table), first_figure: top(document.querySelector("img")),
             page_height: document.documentElement.scrollHeight, viewport: [window.innerWidth, window.innerHeight]};
  var pre = document.createElement("pre");
  pre.id = "rfbench-layout";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def find_browser(given: str | None = None) -> str | None:
    """The browser binary to use (``given``, $RFBENCH_CHROMIUM, or one on the PATH), or None."""
    for name in (given, os.environ.get("RFBENCH_CHROMIUM"), *CANDIDATES):
        if name and (path := shutil.which(name) or (name if Path(name).is_file() else None)):
            return path
    return None


def _run(browser: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    base = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout, check=False)


def measure(report: Path, browser: str, *, width: int = 1280, height: int = 800, screenshot: Path | None = None,
            timeout: float = 120) -> dict:
    """Layout of ``report`` in the browser at ``width`` x ``height`` (CSS px): the tops of the headline
    heading, its table and the first figure, the page height; writes ``screenshot`` when given."""
    report = report.resolve()
    size = f"--window-size={width},{height}"
    if screenshot is not None:
        done = _run(browser, [size, f"--screenshot={screenshot.resolve()}", report.as_uri()], timeout)
        if not screenshot.exists():
            raise RuntimeError(f"{browser} wrote no screenshot: {done.stderr.strip()[-500:]}")
    text = report.read_text(encoding="utf-8")
    cut = text.lower().rfind("</body>")
    probe = text[:cut] + MEASURE + text[cut:] if cut >= 0 else text + MEASURE
    # next to the report, so the page's relative links (figures) resolve as in the real file
    with tempfile.NamedTemporaryFile("w", suffix=".html", dir=report.parent, delete=False, encoding="utf-8") as f:
        f.write(probe)
    try:
        done = _run(browser, [size, "--virtual-time-budget=10000", "--dump-dom", Path(f.name).as_uri()], timeout)
    finally:
        os.unlink(f.name)
    found = re.search(r'<pre id="rfbench-layout">(.*?)</pre>', done.stdout, re.S)
    if not found:
        raise RuntimeError(f"{browser} returned no layout for {report}: {done.stderr.strip()[-500:]}")
    return json.loads(html.unescape(found.group(1)))


def verdict(layout: dict, height: int) -> list[str]:
    """What is not within the first screenful (empty: both are)."""
    bad = []
    for key, what in (("headline_table", "the headline table"), ("first_figure", "the first figure")):
        top = layout.get(key)
        if top is None:
            bad.append(f"{what}: not found on the page")
        elif top >= height:
            bad.append(f"{what} starts at {top:.0f} px, below the first screenful ({height} px)")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", type=Path, help="a report.html written by `rfbench report`")
    ap.add_argument("--out", type=Path, default=None, help="screenshot of the first screenful (PNG)")
    ap.add_argument("--browser", default=None, help="Chromium / Chrome binary")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    args = ap.parse_args(argv)
    if not args.report.is_file():
        print(f"report_screenshot: {args.report}: no such file (expected a report.html)", file=sys.stderr)
        return 2
    browser = find_browser(args.browser)
    if browser is None:
        print("report_screenshot: no Chromium or Chrome found (--browser PATH, $RFBENCH_CHROMIUM, or one of "
              f"{', '.join(CANDIDATES)} on the PATH)", file=sys.stderr)
        return 2
    try:
        layout = measure(args.report, browser, width=args.width, height=args.height, screenshot=args.out)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"report_screenshot: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(layout))
    bad = verdict(layout, args.height)
    for line in bad:
        print(f"report_screenshot: {line}", file=sys.stderr)
    if not bad:
        print(f"headline table at {layout['headline_table']:.0f} px and first figure at "
              f"{layout['first_figure']:.0f} px: both within the first {args.height} px"
              + (f"; screenshot {args.out}" if args.out else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
