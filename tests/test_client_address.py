"""Who the client is: the socket peer, and `X-Forwarded-For` only through trusted proxies."""

from __future__ import annotations

import pytest
from starlette.types import Scope

from app.config import Settings
from app.core.network import ClientAddressResolver
from app.middleware.rate_limit import limit_subject


def scope(peer: str, *forwarded_for: str) -> Scope:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"type": "http", "client": (peer, 51000), "headers": headers}


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    resolve = ClientAddressResolver([])
    assert resolve(scope("203.0.113.5", "198.51.100.1")) == "203.0.113.5"


def test_spoofed_header_from_an_untrusted_peer_is_ignored() -> None:
    resolve = ClientAddressResolver(["10.0.0.0/8"])
    assert resolve(scope("203.0.113.5", "198.51.100.1, 10.0.0.9")) == "203.0.113.5"


def test_trusted_proxy_names_the_client() -> None:
    resolve = ClientAddressResolver(["10.0.0.1"])
    assert resolve(scope("10.0.0.1", "198.51.100.7")) == "198.51.100.7"


def test_only_the_hops_our_proxies_appended_are_believed() -> None:
    # The client wrote "6.6.6.6"; our two proxies appended the real client and themselves.
    resolve = ClientAddressResolver(["10.0.0.0/8"])
    chain = scope("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1")
    assert resolve(chain) == "198.51.100.7"


def test_several_forwarded_for_headers_read_as_one_list() -> None:
    resolve = ClientAddressResolver(["10.0.0.0/8"])
    assert resolve(scope("10.0.0.2", "6.6.6.6", "198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize("garbage", ["not-an-ip", "", "198.51.100.7:8080", "<script>"])
def test_garbage_in_the_header_stops_at_the_last_trusted_hop(garbage: str) -> None:
    resolve = ClientAddressResolver(["10.0.0.0/8"])
    assert resolve(scope("10.0.0.2", f"198.51.100.7, {garbage}")) == "10.0.0.2"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    resolve = ClientAddressResolver(["10.0.0.0/8"])
    assert resolve(scope("10.0.0.2", "10.0.0.5, 10.0.0.1")) == "10.0.0.5"


def test_ipv6_proxy_network_and_mapped_addresses() -> None:
    resolve = ClientAddressResolver(["fd00::/8", "192.0.2.1"])
    assert resolve(scope("fd00::1", "2001:db8::42")) == "2001:db8::42"
    assert resolve(scope("::ffff:192.0.2.1", "198.51.100.7")) == "198.51.100.7"


def test_missing_peer_is_unknown() -> None:
    resolve = ClientAddressResolver(["10.0.0.0/8"])
    assert resolve({"type": "http", "client": None, "headers": []}) == "unknown"


def test_ipv6_clients_share_a_limit_per_64_network() -> None:
    assert limit_subject("2001:db8:1:2:aaaa::1") == limit_subject("2001:db8:1:2:bbbb::9")
    assert limit_subject("2001:db8:1:3::1") != limit_subject("2001:db8:1:2::1")
    assert limit_subject("198.51.100.7") == "198.51.100.7"


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.local", "10.0.0.256"])
def test_a_bad_trusted_proxy_is_a_startup_error(value: str) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies=value)
