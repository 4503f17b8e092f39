"""Property tests for every parser of what people type or files hold.

One port rule for every command (``who``, ``free``, ``suggest``, ``history
--port``, ``watch-port``, the "Is port free?" box): ASCII digits, 1-65535.
One interval rule. ``settings_from_json`` never raises on any JSON value.
"""

from __future__ import annotations

import argparse
import json
import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.core.arguments import interval_seconds, port_number
from portwatch.core.portspec import (
    MAX_PORT,
    MAX_RANGE_PORTS,
    PortSpec,
    PortSpecError,
    parse_port,
    parse_port_list,
    parse_port_spec,
    validate_port,
)
from portwatch.core.settings import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    Settings,
    SettingsError,
    parse_interval,
    settings_from_json,
)
from portwatch.core.settings_json import UnreadableError, parse_settings_bytes


def _every_command(text: str) -> list[int | None]:
    """What each place that takes one port makes of ``text`` (None: refused)."""
    results: list[int | None] = []
    try:
        results.append(parse_port(text))
    except PortSpecError:
        results.append(None)
    try:
        results.append(port_number(text))
    except argparse.ArgumentTypeError:
        results.append(None)
    results.append(validate_port(text)[0])
    try:
        spec = parse_port_spec(text)
        results.append(spec.low if spec.low == spec.high and spec.proto is None else -1)
    except PortSpecError:
        results.append(None)
    return results


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("3000", 3000),
        (" 3000 ", 3000),
        ("\t3000\n", 3000),
        ("03000", 3000),
        ("３０００", None),  # full-width digits
        ("٣٠٠٠", None),  # Arabic-Indic digits
        ("+3000", None),
        ("-3000", None),
        ("3_000", None),
        ("3 000", None),
        ("0x10", None),
        ("3000.0", None),
        ("", None),
        ("0", None),
        ("65536", None),
        ("9" * 5000, None),
    ],
)
def test_one_rule_in_every_command(text: str, port: int | None) -> None:
    assert _every_command(text) == [port] * 4


@given(st.text(max_size=12))
def test_any_text_is_a_port_or_one_message_the_same_everywhere(text: str) -> None:
    answers = _every_command(text)
    assert len(set(answers)) == 1, answers
    try:
        port = parse_port(text)
    except PortSpecError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
        assert len(message) < 120
    else:
        assert 1 <= port <= MAX_PORT
        assert text.strip().lstrip("0") == str(port)


@given(st.text(alphabet=string.digits + "+-_ ,/tcpudTCPUD٣３\u3000", max_size=40))
def test_port_lists_parse_to_valid_specs_or_one_message(text: str) -> None:
    try:
        specs = parse_port_list(text, allow_empty=True)
    except PortSpecError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
    else:
        assert len(set(specs)) == len(specs)
        for spec in specs:
            assert 1 <= spec.low <= spec.high <= MAX_PORT
            assert spec.size <= MAX_RANGE_PORTS
            assert parse_port_spec(str(spec)) == spec


@given(st.lists(st.integers(1, MAX_PORT), max_size=300))
def test_a_list_keeps_the_first_of_each_and_its_order(ports: list[int]) -> None:
    specs = parse_port_list(" ".join(map(str, ports)), allow_empty=True)
    assert specs == [PortSpec(p, p) for p in dict.fromkeys(ports)]


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_intervals_in_range_are_accepted_exactly(value: float) -> None:
    text = repr(value)
    if math.isfinite(value) and MIN_INTERVAL <= value <= MAX_INTERVAL:
        assert parse_interval(text) == value
        assert interval_seconds(text) == value
    else:
        with pytest.raises(SettingsError, match="out of range"):
            parse_interval(text)
        with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
            interval_seconds(text)


@given(st.text(max_size=12))
def test_any_interval_text_is_a_number_in_range_or_one_message(text: str) -> None:
    try:
        value = parse_interval(text)
    except SettingsError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
    else:
        assert MIN_INTERVAL <= value <= MAX_INTERVAL
        assert text.strip().isascii()
        assert "_" not in text


@pytest.mark.parametrize("text", ["0.1", "0", "-1", "nan", "inf", "3601", "２", "1_0", "fast"])
def test_intervals_refused(text: str) -> None:
    with pytest.raises(SettingsError):
        parse_interval(text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
known_keys = st.sampled_from(sorted(Settings().to_json()))
settings_like = st.dictionaries(
    known_keys | st.text(max_size=10),
    json_values | st.lists(st.text(max_size=12) | st.integers(-5, 70_000), max_size=5),
    max_size=12,
)


@settings(max_examples=300)
@given(json_values | settings_like)
def test_settings_from_any_json_are_valid_and_round_trip(data: object) -> None:
    loaded, problems = settings_from_json(data)
    assert isinstance(loaded, Settings)
    assert all(isinstance(p, str) and p for p in problems)
    assert MIN_INTERVAL <= loaded.scan_interval <= MAX_INTERVAL
    # What we would write reads back as the same settings with nothing to complain about.
    written = json.dumps(loaded.to_json())
    again, problems_again = settings_from_json(json.loads(written))
    assert problems_again == []
    assert again == loaded


@given(st.integers(min_value=1, max_value=200))
def test_nesting_depth_is_capped(depth: int) -> None:
    raw = ("[" * depth + "]" * depth).encode()
    if depth <= 64:
        expected: list[object] = []
        for _ in range(depth - 1):
            expected = [expected]
        assert parse_settings_bytes(raw) == expected
    else:
        with pytest.raises(UnreadableError, match="nested too deeply"):
            parse_settings_bytes(raw)
