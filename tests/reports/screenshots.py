"""Write the report screenshots in docs/: page one of each kind, and the run in Chinese.

Run: .venv/bin/python -m tests.reports.screenshots [FOLDER]   (default docs/)

They are the pictures a person looked at (docs/report.md says what changed after
looking); the tests check the same pages' structure, not their pixels.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from tests.fakes.cli import REPO_ROOT
from tests.reports.browser import screenshot
from tests.reports.test_report_browser import render

SHOTS = (("run", "en", 2200), ("window", "en", 1500), ("fleet", "en", 1300), ("run", "zh-CN", 1400))
SECTIONS = (
    ("window-demand", "demand", "en", 3300),
    ("window-demand", "demand", "zh-CN", 3300),
    ("fleet-pools", "pools", "en", 520),
)
"""(kind, section id, language, height): the new sections, each shown on its own."""


def section_page(page: str, ident: str) -> str:
    """Return `page` with only its section `ident` in the body (head and stylesheet kept)."""
    head, _body = page.split("<body>", 1)
    found = re.search(rf'<section id="{ident}">.*?</section>', page, re.DOTALL)
    if found is None:
        raise ValueError(f"no section {ident!r}")
    return f"{head}<body>\n{found.group(0)}\n</body>\n</html>\n"


def main(folder: Path) -> None:
    """Render each report kind and save its screenshot under `folder`."""
    with tempfile.TemporaryDirectory() as tmp:
        for kind, lang, height in SHOTS:
            page = Path(tmp) / f"{kind}-{lang}.html"
            page.write_text(render(kind, lang), encoding="utf-8")
            suffix = "" if lang == "en" else f"-{lang}"
            png = screenshot(page, folder / f"report-{kind}{suffix}.png", height)
            print(png)
        for kind, ident, lang, height in SECTIONS:
            page = Path(tmp) / f"{ident}-{lang}.html"
            page.write_text(section_page(render(kind, lang), ident), encoding="utf-8")
            suffix = "" if lang == "en" else f"-{lang}"
            print(screenshot(page, folder / f"report-{ident}{suffix}.png", height))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "docs")
