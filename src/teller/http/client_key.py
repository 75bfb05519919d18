"""Who a request or a connection is counted against: one IPv4 address, or one IPv6 /64.

Place in the flow: the throttle (middleware.py) keys its buckets and the connection limits
(connection.py) count open connections by this key. An IPv6 host is usually given a whole
/64 (2^64 addresses), so keying IPv6 by the full address would give one client 2^64
allowances; a /64 is what one subscriber or one server gets, so it is one client here.
An IPv4-mapped IPv6 address (::ffff:192.0.2.1, from a dual-stack socket) is the IPv4 client.
Text that is not an IP address (a proxy's odd X-Forwarded-For entry) is its own key.
"""

from __future__ import annotations

import ipaddress

IPV6_CLIENT_PREFIX = 64


def client_key(address: str) -> str:
    """The key of the client at `address`: "192.0.2.1", or "2001:db8:1:2::/64"."""
    text = address.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        network = ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False)
        return str(network)
    return str(ip)
