"""A small JSON client of the consortium API on `urllib.request` (no third-party HTTP library).

Every request carries `Authorization: Bearer <token>`. An answer of 400 or more raises
`ProblemError` holding the RFC 9457 problem document (PROTOCOL §1); a 429 is retried after its
`Retry-After` (a few times, capped). Only URLs on the configured server's origin are followed,
so a `next` link cannot send the token elsewhere.
"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.client import HTTPResponse
from typing import IO, Any

USER_AGENT = "consortium-client/1 (python-urllib)"
RETRIES_ON_429 = 3
MAX_RETRY_WAIT = 120.0


class ClientError(Exception):
    """The server could not be reached, or answered something that is not the protocol."""


class ProblemError(ClientError):
    """The server refused the request: `status` and the problem document (`problem`)."""

    def __init__(self, status: int, problem: dict[str, Any], url: str) -> None:
        self.status = status
        self.problem = problem
        self.url = url
        super().__init__(format_problem(status, problem))


def format_problem(status: int, problem: dict[str, Any], *, max_errors: int = 10) -> str:
    """Title, detail and the first `max_errors` errors with their JSON pointers, one per line."""
    title = problem.get("title") or "Error"
    lines = [f"{status} {title}: {problem.get('detail') or ''}".rstrip(": ")]
    errors = problem.get("errors") if isinstance(problem.get("errors"), list) else []
    for error in errors[:max_errors]:
        if isinstance(error, dict):
            pointer = error.get("pointer") or "(the request)"
            lines.append(f"  {pointer}: {error.get('message', '')} [{error.get('code', '')}]")
    if len(errors) > max_errors:
        lines.append(f"  … and {len(errors) - max_errors} more errors listed by the server")
    return "\n".join(lines)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the server's origin: urllib would otherwise copy the
    Authorization header to whatever host a redirect names."""

    def __init__(self, origin: tuple[str, str]) -> None:
        self.origin = origin

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str) -> urllib.request.Request | None:
        parsed = urllib.parse.urlsplit(newurl)
        if (parsed.scheme, parsed.netloc) != self.origin:
            raise ClientError(f"the server redirected to {newurl!r}, outside its origin; not following it with your token")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Client:
    """The API of one consortium server, as one user (its token). Holds no connection state."""

    def __init__(self, server: str, token: str | None, *, timeout: float = 120.0, sleep: Callable[[float], None] = time.sleep) -> None:
        parsed = urllib.parse.urlsplit(server)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ClientError(f"--server must be an http(s) URL such as https://consortium.example, not {server!r}")
        self.server = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
        self.origin = (parsed.scheme, parsed.netloc)
        self.token = token
        self.timeout = timeout
        self.sleep = sleep
        self._opener = urllib.request.build_opener(_SameOriginRedirects(self.origin))

    def url(self, path_or_url: str) -> str:
        """An absolute URL for a path (`/api/v1/…`) or for a URL the server gave (`next`), which
        must be on the server's own origin."""
        if path_or_url.startswith("/"):
            return self.server + path_or_url
        parsed = urllib.parse.urlsplit(path_or_url)
        if (parsed.scheme, parsed.netloc) != self.origin:
            raise ClientError(f"the server pointed to {path_or_url!r}, outside {self.server}; not following it")
        return path_or_url

    def open(
        self,
        method: str,
        path: str,
        *,
        body: bytes | IO[bytes] | None = None,
        length: int | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> HTTPResponse:
        """Send one request and return the open response (2xx or 3xx); the caller reads and closes it.

        `body` may be a file-like object read in blocks (give `length`: the server wants a
        Content-Length, not chunked encoding). Raises ProblemError for 4xx/5xx, ClientError
        when the server is unreachable.
        """
        url = self.url(path)
        for attempt in range(RETRIES_ON_429 + 1):
            request = urllib.request.Request(url, data=body, method=method)
            request.add_header("Accept", accept)
            request.add_header("User-Agent", USER_AGENT)
            if self.token:
                request.add_header("Authorization", f"Bearer {self.token}")
            if body is not None:
                request.add_header("Content-Type", content_type)
                size = len(body) if isinstance(body, bytes) else length
                if size is not None:
                    request.add_header("Content-Length", str(size))
            try:
                return self._opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                problem = _problem_of(exc)
                wait = _retry_after(exc.headers.get("Retry-After"))
                seekable = body is None or isinstance(body, bytes) or hasattr(body, "seek")
                if exc.code == 429 and attempt < RETRIES_ON_429 and wait is not None and seekable:
                    print(f"consortium-client: rate limited, retrying in {wait:.0f} s", file=sys.stderr)
                    self.sleep(wait)
                    if hasattr(body, "seek"):
                        body.seek(0)  # type: ignore[union-attr]
                    continue
                raise ProblemError(exc.code, problem, url) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ClientError(f"cannot reach {url}: {reason}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_bytes(self, path: str) -> bytes:
        with self.open("GET", path) as response:
            return response.read()

    def get_json(self, path: str) -> Any:
        """GET a JSON document. Side effects: none on the server."""
        return _json(self.get_bytes(path), self.url(path))

    def post_json(self, path: str, document: Any) -> tuple[int, Any]:
        """POST `document` as JSON; (status, parsed answer)."""
        return self.post_bytes(path, json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())

    def post_bytes(self, path: str, body: bytes | IO[bytes], *, length: int | None = None) -> tuple[int, Any]:
        """POST an already serialized JSON body; (status, parsed answer)."""
        with self.open("POST", path, body=body, length=length) as response:
            return response.status, _json(response.read(), self.url(path))


def _json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ClientError(f"{url} answered something that is not JSON: {body[:200]!r}") from None


def _problem_of(exc: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = exc.read()
    except OSError:
        body = b""
    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"title": exc.reason or "Error", "status": exc.code, "detail": body[:500].decode("utf-8", "replace")}
    return problem


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_WAIT)
    except ValueError:
        return None
