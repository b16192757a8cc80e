from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from hashes.kinds import Kind, KindError

MAX_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


class URL(Kind):
    """An absolute http(s) URL, normalized so that one page has one value.

    Lowercase scheme and host (IDNA-encoded), default port and fragment dropped, an empty path
    written `/`; path, query and userinfo are kept as sent (they are case-sensitive), with
    percent-escapes of unreserved characters decoded and other escapes uppercased (RFC 3986 §6.2.2).
    """

    name = "url"
    description = "absolute http(s) URL up to 2048 characters; exact match after normalization"

    def normalize(self, value: Any) -> str:
        if not isinstance(value, str):
            raise KindError("A url value is a string.", code="invalid_type")
        text = value.strip()
        if len(text) > MAX_LENGTH:
            raise KindError(f"A url is at most {MAX_LENGTH} characters, not {len(text)}.", code="too_long")
        if any(c.isspace() or ord(c) < 0x20 for c in text):
            raise KindError("A url has no spaces or control characters; percent-encode them.", code="invalid_url")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise KindError(f"Not a URL: {exc}.", code="invalid_url") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise KindError("A url is absolute and starts with http:// or https://.", code="invalid_scheme")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise KindError("A url names a host.", code="invalid_url")
        host = _normalize_host(host)
        netloc = host
        if parts.username is not None:
            userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
            netloc = f"{userinfo}@{host}"
        if port is not None and port != DEFAULT_PORTS[scheme]:
            netloc = f"{netloc}:{port}"
        path = _normalize_escapes(parts.path) or "/"
        result = urlunsplit((scheme, netloc, path, _normalize_escapes(parts.query), ""))
        if len(result) > MAX_LENGTH:
            raise KindError(f"A url is at most {MAX_LENGTH} characters once normalized.", code="too_long")
        return result


def _normalize_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise KindError(f"The host {host!r} is not a valid domain name.", code="invalid_host") from None


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalize_escapes(text: str) -> str:
    """Decode %XX of unreserved characters, uppercase the rest; non-ASCII is percent-encoded."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and i + 2 < len(text) and _is_hex(text[i + 1 : i + 3]):
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        out.append(char if char.isascii() else quote(char, safe=""))
        i += 1
    return "".join(out)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


KIND = URL()
