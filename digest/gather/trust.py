"""Which addresses a fetch may reach: trust is scoped to the origin of a configured source.

A configured source is the operator's choice. What a page leads to (a related link, a feed
entry, a redirect) is the page author's choice: it may reach a loopback, private, link-local,
multicast or reserved address only when it has the same origin (scheme, host, port) as the
configured source it came from and that source is itself on such a network, or its host is in
`[gather] allow_hosts`, or `allow_private_links` is set. The rule is checked on the name before
connecting and again on the socket's peer address once connected, before a byte is sent, so a
name that resolves elsewhere the second time (DNS rebinding) gets nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from digest.config import GatherConfig
from digest.errors import SourceError

Origin = tuple[str, str, int]  # scheme, host, port
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_host(host: str) -> str:
    """A host name as compared: lower case, no IPv6 brackets, no trailing dot."""
    return host.strip().strip("[]").lower().rstrip(".")


def origin_of(url: str) -> Origin | None:
    """The (scheme, host, port) of an http(s) URL; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, normal_host(parts.hostname), port or _DEFAULT_PORTS[scheme]


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local, multicast, reserved)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip.is_global and not ip.is_multicast


def non_public_address(url: str) -> str | None:
    """The first loopback, private, link-local or reserved address the URL's host is or resolves to."""
    host = urlsplit(url).hostname
    if not host:
        return None
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError):
        return None  # unresolvable: the fetch itself fails with its own reason
    return next((address for address in sorted(addresses) if not is_public(address)), None)


@dataclass(frozen=True, slots=True)
class Trust:
    """What the pages of one configured source may reach beyond the public internet."""

    origin: Origin | None = None  # the source's own origin, when the source is on a non-public network
    allow_hosts: frozenset[str] = frozenset()
    allow_private: bool = False

    @classmethod
    def of_source(cls, url: str, config: GatherConfig) -> Trust:
        """The trust a configured source gives its own origin (resolves its name). Raises nothing."""
        local = urlsplit(url).scheme.lower() in _DEFAULT_PORTS and non_public_address(url) is not None
        return cls(
            origin=origin_of(url) if local else None,
            allow_hosts=frozenset(normal_host(host) for host in config.allow_hosts),
            allow_private=config.allow_private_links,
        )

    def may_reach_private(self, url: str) -> bool:
        if self.allow_private:
            return True
        origin = origin_of(url)
        return origin is not None and (origin == self.origin or origin[1] in self.allow_hosts)

    def check_name(self, url: str, target: str) -> None:
        """Before connecting: refuse `target` (a hop of fetching `url`) when its name is non-public. Raises SourceError."""
        if self.may_reach_private(target):
            return
        address = non_public_address(target)
        if address is not None:
            raise SourceError(url, _refusal(target, f"is a local or private address ({address})"))

    def check_peer(self, url: str, target: str, peer: str) -> None:
        """Once connected, before sending: refuse a non-public peer `target` may not reach. Raises SourceError."""
        if not self.may_reach_private(target) and not is_public(peer):
            raise SourceError(url, _refusal(target, f"connected to a local or private address ({peer})"))


def _refusal(target: str, what: str) -> str:
    host = urlsplit(target).hostname
    return (
        f"refused: {host} {what} outside the source's own origin; a page may not lead there "
        "(list the host in [gather] allow_hosts to allow it)"
    )
