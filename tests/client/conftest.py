"""A tiny fake consortium on 127.0.0.1 (http.server in a thread) for the client's unit tests.

It serves what the real server serves (the JWKS, release pages and single releases, the
snapshot and its manifest, batch submission and match) from envelopes the tests sign with a
test consortium key, so each test can publish a good chain and then tamper with one release.
"""
from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.consortium_client import jose

TIME = "2026-11-21T10:00:00Z"


def jwk_row(key: Ed25519PrivateKey, *, retired: str | None = None, created: str | None = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    """A JWKS entry as /.well-known/jwks.json lists it."""
    return {**jose.public_jwk(key), "kid": jose.thumbprint(key), "alg": "EdDSA", "use": "sig", "created": created, "retired": retired}


def change(op: str, value: str, fingerprint: int, kind: str = "md5", labels: list[str] | None = None) -> dict[str, Any]:
    return {"op": op, "kind": kind, "value": value, "labels": labels if labels is not None else ["islamic-state"], "fingerprint": fingerprint}


def envelope_bytes(envelope: dict[str, Any]) -> bytes:
    """As the server stores and serves envelopes: the payload's JCS bytes spliced in."""
    return b'{"payload":' + jose.jcs(envelope["payload"]) + b',"signature":' + json.dumps(envelope["signature"]).encode() + b"}"


@dataclass
class FakeConsortium:
    key: Ed25519PrivateKey
    url: str = ""
    jwks: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)  # served in list order, position = seq - 1
    latest_seq: int | None = None  # overrides len(releases) in the pages
    manifest: dict[str, Any] | None = None
    snapshot: bytes | None = None
    answers: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    last_payload_sha256: str | None = None
    next_base: str | None = None  # serve `next` links on another origin

    def publish(
        self,
        changes: list[dict[str, Any]],
        *,
        key: Ed25519PrivateKey | None = None,
        typ: str = jose.TYP_RELEASE,
        published_at: str = TIME,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Sign the next release of a good chain (fields overridable to make a bad one) and serve it."""
        payload = {
            "seq": len(self.releases) + 1,
            "prev": self.last_payload_sha256,
            "published_at": published_at,
            "batch": None,
            "changes": changes,
        }
        payload.update(overrides)
        envelope = jose.sign(payload, key=key or self.key, typ=typ)
        self.releases.append(envelope)
        self.last_payload_sha256 = hashlib.sha256(jose.jcs(payload)).hexdigest()
        return envelope

    def publish_snapshot(self, rows: list[dict[str, Any]], *, seq: int, key: Ed25519PrivateKey | None = None, **overrides: Any) -> None:
        body = b"".join(json.dumps(row, separators=(",", ":")).encode() + b"\n" for row in rows)
        payload = {"seq": seq, "count": len(rows), "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        payload.update(overrides)
        self.snapshot = body
        self.manifest = jose.sign(payload, key=key or self.key, typ=jose.TYP_SNAPSHOT)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _, _ in self.requests if p.split("?")[0] == path)


def _handler(fake: FakeConsortium) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, method: str) -> bool:
            path = self.path.split("?")[0]
            if (method, path) in fake.answers:
                status, document = fake.answers[(method, path)]
                if 300 <= status < 400:
                    self.send_response(status)
                    self.send_header("Location", document["location"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return True
                kind = "application/problem+json" if status >= 400 else "application/json"
                self._send(status, json.dumps(document).encode(), kind)
                return True
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            fake.requests.append(("GET", self.path, dict(self.headers), b""))
            if self._answer("GET"):
                return
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            if parsed.path == "/.well-known/jwks.json":
                self._send(200, json.dumps({"keys": fake.jwks}).encode())
            elif parsed.path == "/api/v1/releases":
                after, limit = int(query.get("after", 0)), int(query.get("limit", 100))
                page = fake.releases[after:after + limit]
                latest = fake.latest_seq if fake.latest_seq is not None else len(fake.releases)
                last = after + len(page)
                base = fake.next_base or fake.url
                next_url = f"{base}/api/v1/releases?after={last}&limit={limit}" if last < len(fake.releases) else None
                body = (
                    b'{"releases":[' + b",".join(envelope_bytes(e) for e in page) + b'],"latest_seq":'
                    + str(latest).encode() + b',"next":' + json.dumps(next_url).encode() + b"}"
                )
                self._send(200, body)
            elif parsed.path.startswith("/api/v1/releases/"):
                seq = int(parsed.path.rsplit("/", 1)[1])
                if 1 <= seq <= len(fake.releases):
                    self._send(200, envelope_bytes(fake.releases[seq - 1]))
                else:
                    self._send(404, b'{"title":"Not Found","status":404,"detail":"No such release."}', "application/problem+json")
            elif parsed.path == "/api/v1/snapshot/manifest" and fake.manifest is not None:
                self._send(200, envelope_bytes(fake.manifest))
            elif parsed.path == "/api/v1/snapshot" and fake.snapshot is not None:
                self._send(200, fake.snapshot, "application/jsonl")
            else:
                self._send(404, b'{"title":"Not Found","status":404,"detail":"No such path."}', "application/problem+json")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            fake.requests.append(("POST", self.path, dict(self.headers), body))
            if self._answer("POST"):
                return
            if self.path == "/api/v1/batches":
                self._send(202, json.dumps({"id": 7, "status": "received", "url": f"{fake.url}/api/v1/batches/7"}).encode())
            elif self.path == "/api/v1/match":
                queries = json.loads(body)["queries"]
                results = [
                    {"query": i, "matches": [{"fingerprint": 1, "kind": q["kind"], "value": q["value"], "distance": 0, "labels": ["islamic-state"], "seq": 1, "members": ["acme"]}] if q["value"].startswith("0") else []}
                    for i, q in enumerate(queries)
                ]
                self._send(200, json.dumps({"results": results}).encode())
            else:
                self._send(404, b'{"title":"Not Found","status":404,"detail":"No such path."}', "application/problem+json")

    return Handler


@pytest.fixture
def consortium_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def fake(consortium_key: Ed25519PrivateKey) -> Iterator[FakeConsortium]:
    """A running fake server whose JWKS lists `consortium_key`."""
    state = FakeConsortium(key=consortium_key, jwks=[jwk_row(consortium_key)])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-consortium", daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def cli(fake: FakeConsortium, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`cli("mirror", "--db", path)`: run the client's command line against the fake server;
    (exit status, stdout, stderr)."""
    from client.consortium_client.__main__ import main

    def run(command: str, *args: str, remote: bool = True) -> tuple[int, str, str]:
        argv = [command, *(["--server", fake.url, "--token", "cst_test"] if remote else []), *args]
        status = main(argv)
        out, err = capsys.readouterr()
        return status, out, err

    return run
