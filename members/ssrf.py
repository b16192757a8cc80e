"""Refusing webhook URLs that point inside the server's network (server-side request forgery).

A URL is refused when its host is, or resolves to, an address that is loopback, private,
link-local (which includes the cloud metadata address 169.254.169.254), multicast, reserved or
unspecified, in IPv4 or IPv6 (IPv4-mapped IPv6 addresses are judged as the IPv4 they carry).
The check runs at registration and again before every delivery, since DNS can change.
Operators may allow loopback (tests, the embedded demo) with WEBHOOK_ALLOW_LOOPBACK.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(ValueError):
    """A URL the server will not call, with the reason."""


def _judge(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if settings.WEBHOOK_ALLOW_LOOPBACK else "a loopback address"
    if address.is_link_local:
        return "a link-local address (this includes cloud metadata services)"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a reserved, multicast or unspecified address"
    return None


def check_url(url: str) -> list[str]:
    """The addresses `url`'s host resolves to, all of them safe to call; raises UnsafeURL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("The URL must start with https:// (or http://).")
    host = parts.hostname
    if not host:
        raise UnsafeURL("The URL names no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The URL's port is not a number from 1 to 65535.") from None
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The host {host!r} does not resolve.") from None
    addresses = sorted({info[4][0] for info in infos})
    for text in addresses:
        reason = _judge(ipaddress.ip_address(text.split("%")[0]))
        if reason:
            raise UnsafeURL(f"The host {host!r} resolves to {text}, {reason}; the server does not call inside its own network.")
    return addresses
