"""Well-known service names for ports, and the range a port falls in.

The table is part of the package on purpose: looking a name up must never
touch the network or depend on the machine's /etc/services.
"""

from __future__ import annotations

from pathlib import Path

from portwatch.core.model import PortRange

# Names used by both TCP and UDP unless a protocol-specific entry overrides them.
# The seeds' list first, then common IANA registrations and de-facto
# developer ports that people meet daily.
_COMMON: dict[int, str] = {
    20: "ftp-data",
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    53: "dns",
    80: "http",
    88: "kerberos",
    110: "pop3",
    111: "rpcbind",
    119: "nntp",
    123: "ntp",
    135: "msrpc",
    137: "netbios-ns",
    138: "netbios-dgm",
    139: "netbios-ssn",
    143: "imap",
    161: "snmp",
    162: "snmptrap",
    179: "bgp",
    389: "ldap",
    443: "https",
    445: "smb",
    465: "smtps",
    500: "isakmp",
    514: "syslog",
    515: "printer",
    546: "dhcpv6-client",
    547: "dhcpv6-server",
    548: "afp",
    554: "rtsp",
    587: "submission",
    631: "ipp",
    636: "ldaps",
    873: "rsync",
    853: "dns-over-tls",
    989: "ftps-data",
    990: "ftps",
    993: "imaps",
    995: "pop3s",
    1080: "socks",
    1194: "openvpn",
    1433: "mssql",
    1434: "mssql-monitor",
    1521: "oracle",
    1701: "l2tp",
    1723: "pptp",
    1812: "radius",
    1813: "radius-acct",
    1883: "mqtt",
    1900: "ssdp",
    2049: "nfs",
    2181: "zookeeper",
    2375: "docker",
    2376: "docker-tls",
    2379: "etcd",
    2380: "etcd-peer",
    3000: "dev-server",
    3128: "squid",
    3306: "mysql",
    3389: "rdp",
    3478: "stun",
    4200: "angular-dev",
    4369: "epmd",
    4444: "metasploit",
    4500: "ipsec-nat-t",
    5000: "dev-server",
    5037: "adb",
    5060: "sip",
    5061: "sips",
    5173: "vite",
    5222: "xmpp-client",
    5269: "xmpp-server",
    5353: "mdns",
    5355: "llmnr",
    5432: "postgresql",
    5601: "kibana",
    5672: "amqp",
    5900: "vnc",
    5984: "couchdb",
    6000: "x11",
    6379: "redis",
    6443: "kubernetes-api",
    6660: "irc",
    6667: "irc",
    6697: "ircs",
    7000: "cassandra",
    7001: "cassandra-tls",
    8000: "http-alt",
    8008: "http-alt",
    8080: "http-alt",
    8081: "http-alt",
    8086: "influxdb",
    8088: "http-alt",
    8200: "vault",
    8443: "https-alt",
    8500: "consul",
    8883: "mqtts",
    8888: "http-alt",
    9000: "http-alt",
    9042: "cassandra-cql",
    9090: "prometheus",
    9092: "kafka",
    9100: "node-exporter",
    9200: "elasticsearch",
    9300: "elasticsearch-node",
    9418: "git",
    9443: "https-alt",
    11211: "memcached",
    15672: "rabbitmq-mgmt",
    25565: "minecraft",
    27017: "mongodb",
    27018: "mongodb-shard",
    50051: "grpc",
    51820: "wireguard",
}

_UDP_ONLY: dict[int, str] = {
    67: "dhcp-server",
    68: "dhcp-client",
    69: "tftp",
    123: "ntp",
    443: "quic",
    3702: "ws-discovery",
    5353: "mdns",
}

_TCP_ONLY: dict[int, str] = {
    9229: "node-inspector",
}


def service_name(port: int, proto: str = "tcp") -> str | None:
    """The conventional service on this port, or None when nothing is usual there."""
    table = _UDP_ONLY if proto == "udp" else _TCP_ONLY
    return table.get(port) or _COMMON.get(port)


def port_range(port: int) -> PortRange:
    if port < 1024:
        return PortRange.WELL_KNOWN
    if port < 49152:
        return PortRange.REGISTERED
    return PortRange.DYNAMIC


# Linux's own default; used when the sysctl cannot be read.
DEFAULT_LINUX_EPHEMERAL = (32768, 60999)


def read_linux_ephemeral_range(
    path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range"),
) -> tuple[int, int]:
    try:
        low, high = path.read_text().split()[:2]
        return int(low), int(high)
    except (OSError, ValueError):
        return DEFAULT_LINUX_EPHEMERAL


def ports_for_name(name: str) -> list[int]:
    """Ports whose conventional service matches ``name`` (for search: 'postgres' → 5432)."""
    needle = name.lower()
    found = {
        port
        for table in (_COMMON, _UDP_ONLY, _TCP_ONLY)
        for port, svc in table.items()
        if needle in svc
    }
    return sorted(found)
