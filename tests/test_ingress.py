"""Who sent a request: the socket peer, or behind our own proxies the address they forwarded."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.ingress import client_address
from gateway.settings import ConfigError, settings_from_mapping

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Not from a proxy of ours: the header is whatever the client wrote.
        ("203.0.113.7", [b"198.51.100.1"], "203.0.113.7"),
        # From our proxy: the address it appended (the rightmost).
        ("10.1.2.3", [b"198.51.100.1"], "198.51.100.1"),
        # A client's own X-Forwarded-For is kept by the proxy on the left: never believed.
        ("10.1.2.3", [b"1.1.1.1, 8.8.8.8, 198.51.100.1"], "198.51.100.1"),
        # Two proxies of ours in a row: skipped from the right.
        ("10.1.2.3", [b"198.51.100.1, 10.9.9.9"], "198.51.100.1"),
        ("10.1.2.3", [b"198.51.100.1", b"10.9.9.9"], "198.51.100.1"),  # several headers, one list
        ("2001:db8::5", [b"2001:db8::1, 2a00:1450::1"], "2a00:1450::1"),
        # A name or garbage is never an address: the last proxy that handed it on is who we know.
        ("10.1.2.3", [b"8.8.8.8, not-an-address"], "10.1.2.3"),
        ("10.1.2.3", [b"8.8.8.8, not-an-address, 10.0.0.7"], "10.0.0.7"),
        # Only proxies: the leftmost; no header at all: the proxy itself.
        ("10.1.2.3", [b"10.0.0.9, 10.0.0.8"], "10.0.0.9"),
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", [b" , "], "10.1.2.3"),
        (None, [b"198.51.100.1"], None),
    ],
)
def test_client_address(peer: str | None, forwarded: list[bytes], expected: str | None) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_an_overlong_entry_is_never_taken() -> None:
    assert client_address("10.0.0.1", [b"x" * 500], PROXIES) == "10.0.0.1"


def test_trusted_proxies_config() -> None:
    settings = settings_from_mapping(
        {"server": {"trusted_proxies": ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]}}, source="g", environ={}
    )
    assert ipaddress.ip_address("192.0.2.1") in settings.server.trusted_proxies[1]
    with pytest.raises(ConfigError, match="trusted_proxies"):
        settings_from_mapping({"server": {"trusted_proxies": ["not a network"]}}, source="g", environ={})
    with pytest.raises(ConfigError, match=r"replaced by server\.trusted_proxies"):
        settings_from_mapping({"server": {"trust_forwarded_for": True}}, source="g", environ={})
