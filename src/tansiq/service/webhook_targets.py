"""Where a webhook may be sent: public addresses only, unless the server allows private ones.

A webhook makes the server send requests to a URL a party chose. Left open, a
party could point it at what only the server can reach: its own loopback
(another service on the machine), the private network behind it, a cloud's
metadata address (169.254.169.254). So a webhook's host must resolve only to
global addresses (``ipaddress``'s ``is_global``: not loopback, private,
link-local, shared, reserved, documentation or multicast), checked when the URL
is set and again before every POST; and the POST goes to the very address that
was checked (the host name kept for the ``Host`` header and TLS), so a name
that resolves elsewhere a second later (DNS rebinding) cannot slip past the
check. Through a proxy of the environment the POST goes by name: the proxy
connects from where it stands (a name it alone can resolve included), and
what resolves here is checked all the same. A deployment whose receivers live
on its own network starts the server with ``--webhooks-to-private``.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.request
from collections.abc import Callable
from typing import NamedTuple

import httpx

Resolver = Callable[[str, int], list[str]]

#: what the refusal tells a party (and its operator) to do
PRIVATE_HINT = (
    "the server sends webhooks to private addresses only when started with"
    " --webhooks-to-private"
)


class Target(NamedTuple):
    """A request to send: the URL with the checked address in place of the host name,
    the ``Host`` header and, for https, the name TLS checks the certificate against."""

    url: str
    host_header: str
    sni_hostname: str | None


class NotGlobal(Exception):
    """The host resolves to an address that is not global (its text names it)."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (IP literals as they are)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def targets(url: str, to_private: bool = False, resolver: Resolver = resolve) -> list[Target]:
    """Where a POST to ``url`` may go: one target per address its host resolves to, in
    the resolver's order (the next is tried if one refuses the connection). Unless
    ``to_private``, :class:`NotGlobal` if any address is not global; ``OSError`` if
    the host resolves to none."""
    parsed = httpx.URL(url)
    # the name as DNS, the Host header and TLS take it (IDNA: xn--bcher-kva, not bücher)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolver(host, port)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    if not to_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%", 1)[0])):  # a scope: no
                shown = host if host == text else f"{host} ({text})"
                raise NotGlobal(f"{shown} is not a public address")
    literal = ":" in host or _is_literal(host)
    named = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    host_header = named if parsed.port is None else f"{named}:{parsed.port}"
    sni = host if parsed.scheme == "https" and not literal else None
    return [Target(str(parsed.copy_with(host=a)), host_header, sni) for a in addresses]


#: IPv6 prefixes that lead to IPv4 (or a site) by translation or tunnel, which
#: ``is_global`` takes as global in Python 3.11: NAT64 (RFC 6052, 8215), 6to4,
#: IPv4-compatible, site-local (found by a second review: 64:ff9b::a9fe:a9fe is
#: 169.254.169.254 through a NAT64 gateway)
_TRANSLATED = tuple(
    ipaddress.ip_network(prefix)
    for prefix in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "::/96", "fec0::/10")
)


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may go to ``address``: global, not multicast, and not an IPv6
    form of an IPv4 address (mapped, translated, tunnelled) unless that one is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if any(address in network for network in _TRANSLATED):
            return False
    return address.is_global and not address.is_multicast


def through_proxy(url: str) -> bool:
    """Whether httpx sends a request to ``url`` through a proxy of the environment
    (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, minus ``NO_PROXY``): then the
    proxy connects, by the name, and TLS checks the name (pinning to an address would
    make the proxy's tunnel check the certificate against the address)."""
    parsed = httpx.URL(url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parsed.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parsed.raw_host.decode("ascii"))


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
