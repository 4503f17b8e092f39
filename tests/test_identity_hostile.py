"""Process data is untrusted: arbitrary command lines, cgroup files, markers and engine answers."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.core.identity import IdentityCache
from portwatch.core.identity.apps import MAX_APP_CHARS, app_name
from portwatch.core.identity.containers import EngineClient, parse_containers, proxy_target
from portwatch.core.identity.projects import MARKERS, folder_project
from portwatch.core.identity.units import MAX_UNIT_CHARS, unit_from_cgroup

# Text as psutil hands it over: any code point, lone surrogates for undecodable bytes.
os_text = st.text(st.characters(min_codepoint=1), max_size=60) | st.sampled_from(
    ["node", "python3", "env", "npx", "uv", "run", "-m", "-c", "--", "-", "docker-proxy", ""]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(os_text, max_size=12), st.none() | os_text, st.none() | os_text.map("/".__add__))
def test_any_command_line_gives_a_bounded_name_or_none(
    cmdline: list[str], name: str | None, cwd: str | None
) -> None:
    found = app_name(name, cmdline, cwd)
    assert found is None or (0 < len(found) <= MAX_APP_CHARS)
    if found is not None:
        found.encode("utf-8")  # no lone surrogate gets through
    proxy_target("docker-proxy", cmdline)
    # Whatever the command line, a known owner has a name.
    cache = IdentityCache(proc_root="/nonexistent", engine=EngineClient([]))
    assert cache.identity(42, 1.0, name, cmdline, cwd=cwd).app


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_cgroup_text_gives_a_service_or_none(text: str) -> None:
    unit = unit_from_cgroup(text)
    assert unit is None or (unit.endswith(".service") and len(unit) <= MAX_UNIT_CHARS)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_engine_answer_is_read_without_failing(data: object) -> None:
    for container in parse_containers(data if isinstance(data, list) else [data]):
        assert container.name


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([m for m, _ in MARKERS]), st.binary(max_size=200) | json_values)
def test_any_marker_content_is_read_without_failing(marker: str, content: object) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        (Path(folder) / marker).write_bytes(data)
        found = folder_project(folder)
        assert found is None or 0 < len(found) <= 128
