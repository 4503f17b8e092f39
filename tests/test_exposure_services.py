from __future__ import annotations

from pathlib import Path

import pytest

from portwatch.core.exposure import classify, is_loopback_peer
from portwatch.core.model import Exposure, PortRange
from portwatch.core.services import (
    port_range,
    ports_for_name,
    read_linux_ephemeral_range,
    service_name,
)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", Exposure.LOOPBACK),
        ("127.0.0.53", Exposure.LOOPBACK),
        ("::1", Exposure.LOOPBACK),
        ("::ffff:127.0.0.1", Exposure.LOOPBACK),
        ("192.168.1.5", Exposure.LAN),
        ("10.0.0.1", Exposure.LAN),
        ("172.16.4.4", Exposure.LAN),
        ("169.254.10.1", Exposure.LAN),
        ("fe80::1%eth0", Exposure.LAN),
        ("fd12:3456::1", Exposure.LAN),
        ("100.64.1.1", Exposure.LAN),
        ("::ffff:192.168.1.5", Exposure.LAN),
        ("0.0.0.0", Exposure.PUBLIC),
        ("::", Exposure.PUBLIC),
        ("8.8.8.8", Exposure.PUBLIC),
        ("2001:4860::1", Exposure.PUBLIC),
        ("not-an-address", Exposure.PUBLIC),
    ],
)
def test_classify(address: str, expected: Exposure) -> None:
    assert classify(address) is expected


def test_loopback_peer() -> None:
    assert is_loopback_peer("127.0.0.1")
    assert is_loopback_peer("::ffff:127.0.0.9")
    assert is_loopback_peer("::1")
    assert not is_loopback_peer("192.168.0.2")
    assert not is_loopback_peer("garbage")


def test_services_from_the_seeds() -> None:
    seeds = {
        20: "ftp-data",
        21: "ftp",
        22: "ssh",
        23: "telnet",
        25: "smtp",
        53: "dns",
        80: "http",
        110: "pop3",
        123: "ntp",
        143: "imap",
        443: "https",
        465: "smtps",
        587: "submission",
        993: "imaps",
        995: "pop3s",
        3306: "mysql",
        5432: "postgresql",
        6379: "redis",
        8080: "http-alt",
        27017: "mongodb",
    }
    for port, name in seeds.items():
        assert service_name(port) == name
    assert service_name(443, "udp") == "quic"
    assert service_name(5353, "udp") == "mdns"
    assert service_name(47123) is None
    assert 5432 in ports_for_name("postgres")


def test_port_range() -> None:
    assert port_range(22) is PortRange.WELL_KNOWN
    assert port_range(1023) is PortRange.WELL_KNOWN
    assert port_range(1024) is PortRange.REGISTERED
    assert port_range(49151) is PortRange.REGISTERED
    assert port_range(49152) is PortRange.DYNAMIC


def test_ephemeral_range_file(tmp_path: Path) -> None:
    good = tmp_path / "range"
    good.write_text("40000\t50000\n")
    assert read_linux_ephemeral_range(good) == (40000, 50000)
    bad = tmp_path / "bad"
    bad.write_text("nonsense")
    assert read_linux_ephemeral_range(bad) == (32768, 60999)
    assert read_linux_ephemeral_range(tmp_path / "missing") == (32768, 60999)
