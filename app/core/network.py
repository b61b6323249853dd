"""Who is calling: the client address, with `X-Forwarded-For` believed only from proxies we trust.

The address is the socket peer. When the peer is one of `TRUSTED_PROXIES` (single
addresses or CIDR networks), `X-Forwarded-For` is read from the right, the side
our own proxies appended, skipping trusted hops: the first address that is not a
trusted proxy is the client. Anything a client wrote further left is ignored,
so a spoofed header from an untrusted peer changes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address, IPv4-mapped IPv6 unwrapped; None if it is not one."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientAddressResolver:
    """Resolve the client address of an ASGI request (cheap when no proxy is trusted)."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies
        )
        self._is_trusted = lru_cache(maxsize=4096)(self._check_trusted)

    def _check_trusted(self, host: str) -> bool:
        address = parse_address(host)
        return address is not None and any(address in network for network in self.networks)

    def __call__(self, scope: Scope) -> str:
        client = scope.get("client")
        peer: str = client[0] if client else UNKNOWN
        if not self.networks or not self._is_trusted(peer):
            return peer
        return self._from_forwarded_for(scope, peer)

    def _from_forwarded_for(self, scope: Scope, peer: str) -> str:
        hops: list[str] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops.extend(value.decode("latin-1").split(","))
        candidate = peer
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                break  # garbage from a client: keep the last address a trusted hop vouched for
            candidate = str(address)
            if not self._is_trusted(candidate):
                break
        return candidate
