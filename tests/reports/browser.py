"""Real browser tooling for the report tests: headless Chromium, the Nu validator, axe-core.

`.ci/run` installs Chromium (Debian) and the npm packages `vnu-jar` and `axe-core` into
`.ci/node/node_modules` (or set FINWATT_NODE_MODULES). Where a tool is missing the
tests skip loudly here and fail in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.cli import REPO_ROOT

NODE_MODULES = Path(
    os.environ.get("FINWATT_NODE_MODULES", REPO_ROOT / ".ci" / "node" / "node_modules")
)
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

VNU_FALSE_POSITIVE = "Resource violates Content Security Policy (meta tag): image “data:"
"""vnu's CSP checker reports our data: chart images under `img-src data:`; Chromium shows
them under the same policy (the screenshot tests look at them), so this warning is known."""


def need(tool: str, found: bool, fix: str) -> None:
    """Skip loudly where a tool is missing; fail in CI, which must install it."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must install {tool} (.ci/run does): {fix}")
    pytest.skip(f"LOUD SKIP: no {tool} here; {fix}")


def chromium() -> str:
    """Return the Chromium binary, or skip (fail in CI)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    need("chromium", browser is not None, "apt-get install chromium")
    assert browser is not None
    return browser


def chromium_flags(profile: Path) -> list[str]:
    """Flags for a headless, offline, throwaway Chromium."""
    flags = [
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags


def screenshot(page: Path, png: Path, height_px: int = 1400) -> Path:
    """Render `page` in headless Chromium 1200 px wide and save the top as a PNG."""
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *chromium_flags(Path(profile)),
                f"--window-size=1200,{height_px}",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return png


def vnu_messages(pages: list[Path]) -> list[dict[str, Any]]:
    """Run the Nu HTML checker (HTML and CSS) over pages; return its messages."""
    java = shutil.which("java")
    need("java", java is not None, "apt-get install default-jre-headless")
    need("vnu.jar", VNU_JAR.exists(), "npm install --prefix .ci/node vnu-jar")
    assert java is not None
    result = subprocess.run(
        [java, "-jar", str(VNU_JAR), "--format", "json", "--also-check-css", *map(str, pages)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages: list[dict[str, Any]] = json.loads(result.stderr or result.stdout)["messages"]
    return messages


_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')


def axe_violations(page: Path, work: Path) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.x A and AA) on `page` in headless Chromium; return violations.

    The page's CSP forbids scripts, so a copy without the CSP meta carries axe and a
    runner that writes the results into the DOM, which `--dump-dom` returns.
    """
    need("axe-core", AXE_JS.exists(), "npm install --prefix .ci/node axe-core")
    browser = chromium()
    runner = (
        "<script>" + AXE_JS.read_text(encoding="utf-8") + "</script><script>"
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {json.dumps(AXE_TAGS)}}}}})"
        ".then(r => { const p = document.createElement('pre'); p.id = 'axe-result';"
        " p.textContent = JSON.stringify(r.violations); document.body.appendChild(p); });"
        "</script>"
    )
    html = _CSP.sub("", page.read_text(encoding="utf-8")).replace("</body>", runner + "</body>")
    probe = work / f"axe-{page.name}"
    probe.write_text(html, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                browser,
                *chromium_flags(Path(profile)),
                "--virtual-time-budget=30000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    found = re.search(r'<pre id="axe-result">(.*?)</pre>', result.stdout, re.S)
    assert found, f"axe did not report on {page.name}: {result.stderr[-500:]}"
    import html as html_lib

    violations: list[dict[str, Any]] = json.loads(html_lib.unescape(found.group(1)))
    return violations
