"""The port-list parser: exact messages for bad input, properties for all input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.core.portspec import (
    MAX_PORT,
    MAX_RANGE_PORTS,
    PortSpec,
    PortSpecError,
    format_port_list,
    parse_port_list,
    parse_port_spec,
)


def test_the_documented_example() -> None:
    assert parse_port_list("3000 5173 8000-8010") == [
        PortSpec(3000, 3000),
        PortSpec(5173, 5173),
        PortSpec(8000, 8010),
    ]


def test_commas_protocols_and_duplicates() -> None:
    assert parse_port_list("tcp/5432, UDP/5353,3000 3000") == [
        PortSpec(5432, 5432, "tcp"),
        PortSpec(5353, 5353, "udp"),
        PortSpec(3000, 3000),
    ]
    assert str(PortSpec(8000, 8010, "udp")) == "udp/8000-8010"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "port 0 is out of range: ports are 1-65535"),
        ("70000", "port 70000 is out of range: ports are 1-65535"),
        ("abc", "'abc' is not a port or range (use 3000, 8000-8010 or tcp/5432)"),
        ("3000-2000", "range 3000-2000 is backwards: write the lower port first (2000-3000)"),
        ("1-10001", "range 1-10001 has 10001 ports: at most 10,000 in one range"),
        ("sctp/80", "'sctp' in 'sctp/80' is not a protocol: use tcp/ or udp/"),
        ("80-", "'80-' is not a port or range (use 3000, 8000-8010 or tcp/5432)"),
        ("-5", "'-5' is not a port or range (use 3000, 8000-8010 or tcp/5432)"),
        ("", "no ports given (use 3000, 8000-8010 or tcp/5432)"),
        ("3000 0", "port 0 is out of range: ports are 1-65535"),
        ("٣٠٠٠", "'٣٠٠٠' is not a port or range (use 3000, 8000-8010 or tcp/5432)"),
    ],
)
def test_rejections_have_exact_messages(text: str, message: str) -> None:
    with pytest.raises(PortSpecError) as caught:
        parse_port_list(text)
    assert str(caught.value) == message


def test_largest_allowed_range() -> None:
    assert parse_port_spec(f"1-{MAX_RANGE_PORTS}").size == MAX_RANGE_PORTS


def test_contains_respects_protocol() -> None:
    spec = PortSpec(8000, 8010, "tcp")
    assert spec.contains(8005, "tcp")
    assert not spec.contains(8005, "udp")
    assert not spec.contains(8011, "tcp")
    assert PortSpec(53, 53).contains(53, "udp")


specs = st.builds(
    lambda low, size, proto: PortSpec(low, min(MAX_PORT, low + size), proto),
    st.integers(1, MAX_PORT),
    st.integers(0, MAX_RANGE_PORTS - 1),
    st.sampled_from([None, "tcp", "udp"]),
)


@given(st.lists(specs, min_size=1, max_size=8), st.sampled_from([" ", ",", ", ", "\t", "  "]))
def test_format_then_parse_round_trips(items: list[PortSpec], separator: str) -> None:
    unique = list(dict.fromkeys(items))
    text = separator.join(str(spec) for spec in unique)
    assert parse_port_list(text) == unique
    assert parse_port_list(format_port_list(unique)) == unique


@given(st.integers())
def test_single_integers_accepted_exactly_in_range(port: int) -> None:
    if 1 <= port <= MAX_PORT:
        assert parse_port_spec(str(port)) == PortSpec(port, port)
    else:
        with pytest.raises(PortSpecError, match=r"out of range|not a port"):
            parse_port_spec(str(port))


@given(st.integers(1, MAX_PORT), st.integers(1, MAX_PORT))
def test_ranges_accepted_iff_ordered_and_small(low: int, high: int) -> None:
    text = f"{low}-{high}"
    if low <= high and high - low + 1 <= MAX_RANGE_PORTS:
        assert parse_port_spec(text) == PortSpec(low, high)
    else:
        with pytest.raises(PortSpecError, match=r"backwards|at most 10,000"):
            parse_port_spec(text)


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_a_one_line_message(text: str) -> None:
    try:
        result = parse_port_list(text, allow_empty=True)
    except PortSpecError as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
    else:
        assert all(1 <= s.low <= s.high <= MAX_PORT for s in result)
        assert all(s.size <= MAX_RANGE_PORTS for s in result)


def test_long_and_odd_input_gets_a_short_escaped_message() -> None:
    with pytest.raises(PortSpecError) as caught:
        parse_port_list("9" * 5000)
    assert str(caught.value) == f"port {'9' * 37}... is out of range: ports are 1-65535"
    with pytest.raises(PortSpecError) as caught:
        parse_port_spec("\x1b[2J80")
    assert (
        str(caught.value) == "'\\x1b[2J80' is not a port or range (use 3000, 8000-8010 or tcp/5432)"
    )
