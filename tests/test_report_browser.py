"""The demo report in a real browser: no horizontal overflow at desktop and phone width, and
the first screen answers "how far can I trust the machine" (screenshots in the test's tmp folder)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: A page that shows the report in a frame of the given size (headless chromium windows are at
#: least 500 px wide; the frame is the phone's viewport) and writes what the report measured
#: into its own body, for --dump-dom.
PROBE = """<!DOCTYPE html><html><head><style>body{{margin:0}} iframe{{border:0;display:block}}</style></head>
<body><iframe id="f" src="{src}" style="width:{width}px;height:{height}px"></iframe><script>
document.getElementById('f').addEventListener('load', function () {{
  var w = this.contentWindow, d = w.document, b = document.body, trust = d.getElementById('trust');
  var img = trust && trust.querySelector('img'), table = trust && trust.querySelector('table');
  b.setAttribute('data-scroll-width', d.documentElement.scrollWidth);
  b.setAttribute('data-viewport-width', w.innerWidth);
  b.setAttribute('data-viewport-height', w.innerHeight);
  b.setAttribute('data-forest-bottom', img ? img.getBoundingClientRect().bottom : -1);
  b.setAttribute('data-table-bottom', table ? table.getBoundingClientRect().bottom : -1);
}});
</script></body></html>"""


def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (make test installs Debian's chromium when it can)")
    return chromium


def _browse(chromium: str, page: Path, width: int, height: int, profile: Path, *extra: str) -> str:
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--allow-file-access-from-files", f"--user-data-dir={profile}",
         f"--window-size={max(width, 500)},{height}", "--virtual-time-budget=5000", *extra, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    return proc.stdout


def _measure(chromium: str, report: Path, width: int, height: int, tmp: Path) -> tuple[dict[str, float], Path]:
    """Load the report in a width x height frame; return its measurements and a screenshot."""
    probe = tmp / f"probe-{width}.html"
    probe.write_text(PROBE.format(src=report.resolve().as_uri(), width=width, height=height), encoding="utf-8")
    dom = _browse(chromium, probe, width, height, tmp / "profile", "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    found = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', html.unescape(body.group(1))))
    shot = tmp / f"report-{width}.png"
    _browse(chromium, probe, width, height, tmp / "profile", f"--screenshot={shot}")
    return {k: float(v) for k, v in found.items()}, shot


@pytest.fixture(scope="module")
def demo_report(demo_dir, tmp_path_factory) -> Path:
    from psythemes import extract

    out = tmp_path_factory.mktemp("demo-report")
    extract([demo_dir / "transcripts"], out, metadata=demo_dir / "metadata.csv", codebook="psychosomatic",
            gold=demo_dir / "codes" / "reference.csv", n_boot=100, random_state=0, qdpx=False)
    return out / "report.html"


@pytest.mark.parametrize(("width", "height"), [(1400, 1000), (390, 844)])
def test_report_fits_the_window_and_opens_with_the_agreement_comparison(demo_report, tmp_path, width, height):
    page, shot = _measure(_chromium(), demo_report, width, height, tmp_path)
    assert shot.is_file() and shot.stat().st_size > 10_000  # kept in the test's tmp folder to look at
    assert page["viewport-width"] == width
    assert page["scroll-width"] <= page["viewport-width"], page  # no horizontal scrolling of the page
    if width >= 1000:
        # the first screen shows the per-code comparison: table and forest plot end above the fold
        assert 0 < page["table-bottom"] <= page["viewport-height"], page
        assert 0 < page["forest-bottom"] <= page["viewport-height"], page


def test_report_first_section_compares_machine_and_coders(demo_report):
    text = demo_report.read_text(encoding="utf-8")
    first = text.index("<section")
    assert text[first:].startswith("<section id='trust'><h2>How far can I trust the machine?</h2>")
    trust = text[first:text.index("</section>", first)]
    for shown in ("κ machine vs gold", "κ coder vs coder", "α (MASI), machine vs gold", "α (MASI), coder vs coder",
                  "segments in no theme (outliers)", "data:image/png;base64,"):
        assert shown in trust, shown
    # numbers formatted: counts without decimals, no raw floats like 1273.000
    assert "1,273" in text and "1273.0" not in text
    assert "<details><summary>Theme 0:" in text  # quotes collapsible
    for link in ("agreement.csv", "themes.csv", "figures/barchart.html", "figures/intertopic.html", "manifest.json"):
        assert f"href='{link}'" in text, link
