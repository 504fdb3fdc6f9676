"""Write the report screenshots in docs/: page one of each kind, and the run in Chinese.

Run: .venv/bin/python -m tests.reports.screenshots [FOLDER]   (default docs/)

They are the pictures a person looked at (docs/report.md says what changed after
looking); the tests check the same pages' structure, not their pixels.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.fakes.cli import REPO_ROOT
from tests.reports.browser import screenshot
from tests.reports.test_report_browser import render

SHOTS = (("run", "en", 2200), ("window", "en", 1500), ("fleet", "en", 1300), ("run", "zh-CN", 1400))


def main(folder: Path) -> None:
    """Render each report kind and save its screenshot under `folder`."""
    with tempfile.TemporaryDirectory() as tmp:
        for kind, lang, height in SHOTS:
            page = Path(tmp) / f"{kind}-{lang}.html"
            page.write_text(render(kind, lang), encoding="utf-8")
            suffix = "" if lang == "en" else f"-{lang}"
            png = screenshot(page, folder / f"report-{kind}{suffix}.png", height)
            print(png)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "docs")
