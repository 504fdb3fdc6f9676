"""The repository is self-contained: every citation resolves inside it (docs/style.md).

No text cites a file outside the tree or an issue tracker the tree does not have, and every
`docs/<file>.md#anchor` cited anywhere names a heading of that file (GitHub's anchors).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("profiler", "reports", "workloads", "bench", "tests", "docs")
TOP_FILES = ("README.md", "pyproject.toml", ".ci/run")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".html", ".css", ".po", ".pot", ".sh", ".json"}
TEXT_SUFFIXES |= {".service", ".ini", ".cfg", ".yml", ".yaml"}

# Built from pieces so that this file does not match its own patterns.
OUTSIDE = re.compile(re.escape("..") + "/" + "shared")
BARE_DOC = re.compile(r"(?<![\w/.-])(design|methodology|style)\.md\b", re.IGNORECASE)
ISSUE = re.compile(r"\bissues?" + r"\s+#?\d+", re.IGNORECASE)
CITATION = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def text_files() -> list[Path]:
    """Return every text file of the scanned folders and top-level files."""
    found = [ROOT / name for name in TOP_FILES if (ROOT / name).is_file()]
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                found.append(path)
    return found


FILES = text_files()


def lines_matching(pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in FILES:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return hits


def github_anchor(heading: str) -> str:
    """Return GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Return the anchors of every heading outside code fences (duplicates get -1, -2...)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match is None:
            continue
        anchor = github_anchor(match.group(1))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def test_the_scan_covers_the_tree() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in FILES}
    assert {"README.md", "docs/methodology.md", "profiler/analysis/thresholds.py"} <= names
    assert len(FILES) > 300


def test_nothing_cites_a_folder_outside_the_repository() -> None:
    assert lines_matching(OUTSIDE) == []


def test_design_methodology_and_style_are_cited_in_docs() -> None:
    assert lines_matching(BARE_DOC) == []


def test_no_issue_numbers() -> None:
    assert lines_matching(ISSUE) == []


def test_every_cited_docs_file_and_anchor_exists() -> None:
    broken = []
    cited = 0
    for path in FILES:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for name, anchor in CITATION.findall(line):
                cited += 1
                target = ROOT / "docs" / name
                where = f"{path.relative_to(ROOT)}:{number}: docs/{name}"
                if not target.is_file():
                    broken.append(f"{where} (no such file)")
                elif anchor and anchor not in anchors(target.read_text()):
                    broken.append(f"{where}#{anchor} (no such heading)")
    assert cited > 100
    assert broken == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Memory savings (`estimated:dram-per-gb`)", "memory-savings-estimateddram-per-gb"),
        ("`finwatt exec`, jobs and chargeback", "finwatt-exec-jobs-and-chargeback"),
        ("Attribution on the monitor's side", "attribution-on-the-monitors-side"),
        ("1. RAPL through powercap", "1-rapl-through-powercap"),
    ],
)
def test_github_anchor(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_anchors_skip_code_fences_and_number_duplicates() -> None:
    text = "# Top\n## Part\n```\n# not a heading\n```\n## Part\n"
    assert anchors(text) == {"top", "part", "part-1"}
