"""The release workflow, checked offline: GitHub's schema, and what a release must do."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
# Major versions on Node 24 (Node 20 actions are deprecated on the hosted runners).
CURRENT = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 5,
    "actions/download-artifact": 5,
    "actions/attest-build-provenance": 3,
}


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("check-jsonschema is missing: the test extra in pyproject.toml lists it")
    return found


def test_workflow_is_valid_for_github_offline() -> None:
    """Against the GitHub-workflow schema vendored in check-jsonschema (no network)."""
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = subprocess.run(
            [check_jsonschema(), "--builtin-schema", schema, str(WORKFLOW)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_rejects_what_the_schema_forbids(tmp_path: Path) -> None:
    """The check can fail: a job without runs-on is refused."""
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: true\n")
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0


def test_workflow_uses_current_actions_and_runners() -> None:
    text = WORKFLOW.read_text()
    uses = re.findall(r"uses:\s*([\w./-]+)@v(\d+)", text)
    assert uses
    for action, major in uses:
        assert action in CURRENT, action
        assert int(major) >= CURRENT[action], f"{action}@v{major}"
    assert "macos-13" not in text  # retired runner image
    assert re.search(r"os: macos-1[45]\b", text)
    assert "windows-latest" in text
    assert re.search(r"os: macos-\d+-intel", text)  # the Intel build


def test_workflow_builds_before_testing_and_publishes_everything() -> None:
    text = WORKFLOW.read_text()
    assert text.index("Build the bundle") < text.index("- name: Tests")
    assert text.index("Build the installer (Windows)") < text.index("- name: Tests")
    for needed in (
        'GITHUB_REF_NAME" != "v$version"',  # the tag is checked against the version
        "SHA256SUMS",
        "cyclonedx-py",
        "actions/attest-build-provenance",
        "gh release create",
        "hdiutil attach",  # the dmg is mounted and its app run
        "/VERYSILENT",  # the Inno installer installed and uninstalled silently
        "unins000.exe",
        "portwatch.exe `",  # the windowed exe started
        "*.rpm",
    ):
        assert needed in text, needed
    jobs = text.split("\njobs:\n", 1)[1]
    assert jobs.count("timeout-minutes:") == 3  # every job


def test_no_test_calls_posix_only_functions_at_import() -> None:
    """Collection on Windows: os.geteuid & co. only inside functions or guarded."""
    posix_only = {"geteuid", "getuid", "getegid", "getgid"}
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        runs_at_import = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for node in node.decorator_list
        ] + [node for node in tree.body if not isinstance(node, ast.FunctionDef | ast.ClassDef)]
        for top in runs_at_import:
            for node in ast.walk(top):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in posix_only
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                ):
                    source = ast.get_source_segment(path.read_text(encoding="utf-8"), top) or ""
                    if "win32" not in source and "hasattr" not in source:
                        offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders
