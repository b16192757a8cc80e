"""`python -m consortium_client COMMAND …`: a member's command line (run it in client/).

Commands: keygen, submit, mirror, bootstrap, match (and `python -m consortium_client.audit_verify`
for audit exports). `--server` and `--token` default to $CONSORTIUM_SERVER and $CONSORTIUM_TOKEN
(a token in the environment stays out of `ps`).

Exit status: 0 done; 1 the server refused (a problem document is printed) or a signature, hash
chain or snapshot check failed (nothing of the failing release or snapshot is applied);
2 bad usage or a bad input file; 3 the server could not be reached or answered off-protocol.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import jose
from .http import Client, ClientError, ProblemError
from .mirror import MirrorError, mirror_bootstrap, mirror_open, mirror_state, mirror_sync
from .progress import Progress
from .submit import InputError, batch_submit, build_payload, read_items

MATCH_PATH = "/api/v1/match"
MATCH_CHUNK = 1000

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def _out(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def _client(args: argparse.Namespace) -> Client:
    if not args.server:
        raise InputError("--server (or $CONSORTIUM_SERVER) is required")
    if not args.token:
        raise InputError("--token (or $CONSORTIUM_TOKEN) is required")
    return Client(args.server, args.token, timeout=args.timeout)


def cmd_keygen(args: argparse.Namespace) -> int:
    """Write a new private key file (0600) and print its public JWK (with kid) on stdout."""
    key = Ed25519PrivateKey.generate()
    try:
        jose.write_private_jwk(Path(args.out), key, overwrite=args.force)
    except FileExistsError:
        raise InputError(f"{args.out} exists; pass --force to replace it (the old key is lost)") from None
    public = {**jose.public_jwk(key), "kid": jose.thumbprint(key)}
    if args.name:
        public["name"] = args.name
    print(json.dumps(public))
    print(f"private key written to {args.out} (mode 0600); register the public JWK above with POST /api/v1/members/me/keys", file=sys.stderr)
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    """Read, sign and upload a batch; print the server's answer."""
    progress = Progress(enabled=not args.quiet)
    try:
        key = jose.read_private_jwk(Path(args.key))
    except (OSError, jose.JWKError) as exc:
        raise InputError(f"--key: {exc}") from None
    items = read_items(args.file, progress=progress)
    labels = [label.strip() for label in (args.labels or "").split(",") if label.strip()]
    payload = build_payload(member=args.member, ref=args.ref, items=items, labels=labels, note=args.note)
    status, answer = batch_submit(_client(args), payload, key=key, progress=progress)
    _out(answer)
    if status == 200:
        print(f"ref {args.ref!r} was submitted before with this same payload: batch {answer.get('id')}", file=sys.stderr)
    return EXIT_OK


def cmd_mirror(args: argparse.Namespace) -> int:
    """Apply every new release to the local mirror, verifying each."""
    conn = mirror_open(args.db)
    try:
        progress = Progress(enabled=not args.quiet)
        before, _ = mirror_state(conn)
        try:
            report = mirror_sync(conn, _client(args), page_size=args.page_size, progress=progress)
        except MirrorError as exc:
            now, _ = mirror_state(conn)
            print(f"REFUSED: {exc}", file=sys.stderr)
            print(f"nothing of that release was applied; the mirror stays at seq {now} (was {before})", file=sys.stderr)
            return EXIT_REFUSED
        progress.done("mirror", f"{report.releases} releases, {report.changes:,} changes applied; at seq {report.last_seq}")
        _out({"seq": report.last_seq, "releases_applied": report.releases, "changes_applied": report.changes})
    finally:
        conn.close()
    return EXIT_OK


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Load the signed snapshot into an empty mirror (or replace one with --replace)."""
    conn = mirror_open(args.db)
    try:
        progress = Progress(enabled=not args.quiet)
        try:
            report = mirror_bootstrap(conn, _client(args), replace=args.replace, progress=progress)
        except MirrorError as exc:
            print(f"REFUSED: {exc}", file=sys.stderr)
            print("nothing of the snapshot was loaded", file=sys.stderr)
            return EXIT_REFUSED
        progress.done("bootstrap", f"{report.count:,} fingerprints as of seq {report.seq}, {report.size:,} bytes, sha256 {report.sha256}")
        _out({"seq": report.seq, "count": report.count, "size": report.size, "sha256": report.sha256})
    finally:
        conn.close()
    return EXIT_OK


def _match_queries(args: argparse.Namespace) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = []
    if args.file:
        for item in read_items(args.file):
            query = {"kind": item["kind"], "value": item["value"]}
            if "max_distance" in item:
                query["max_distance"] = item["max_distance"]
            queries.append(query)
    if len(args.pairs) % 2:
        raise InputError("give queries as KIND VALUE pairs")
    queries += [{"kind": kind, "value": value} for kind, value in zip(args.pairs[::2], args.pairs[1::2], strict=True)]
    if not queries:
        raise InputError("nothing to match: give KIND VALUE pairs or --file")
    if args.max_distance is not None:
        for query in queries:
            if query["kind"] == "pdq":
                query.setdefault("max_distance", args.max_distance)
    return queries


def cmd_match(args: argparse.Namespace) -> int:
    """Look values up (1,000 per request) and print the matches."""
    queries = _match_queries(args)
    client = _client(args)
    results: list[dict[str, Any]] = []
    for start in range(0, len(queries), MATCH_CHUNK):
        chunk = queries[start:start + MATCH_CHUNK]
        try:
            _, answer = client.post_json(MATCH_PATH, {"queries": chunk})
        except ProblemError as exc:
            # Pointers name positions in this request; shift them to positions in the whole list.
            for error in exc.problem.get("errors") or []:
                if isinstance(error, dict) and isinstance(error.get("pointer"), str) and error["pointer"].startswith("/queries/"):
                    head, _, tail = error["pointer"][len("/queries/"):].partition("/")
                    if head.isdigit():
                        error["pointer"] = f"/queries/{int(head) + start}" + (f"/{tail}" if tail else "")
            raise ProblemError(exc.status, exc.problem, exc.url) from None
        for result in answer["results"]:
            results.append({**result, "query": result["query"] + start})
    if args.json:
        _out({"results": results})
        return EXIT_OK
    for result in results:
        query = queries[result["query"]]
        matches = result["matches"]
        print(f"{query['kind']} {query['value']}: {len(matches) or 'no'} match{'es' if len(matches) != 1 else ''}")
        for match in matches:
            print(
                f"  fingerprint {match['fingerprint']} {match['kind']} {match['value']} distance {match.get('distance', 0)} "
                f"labels {','.join(match.get('labels') or []) or '-'} members {','.join(match.get('members') or []) or '-'} seq {match.get('seq')}"
            )
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m consortium_client", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def remote(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--server", default=os.environ.get("CONSORTIUM_SERVER"), help="the server's URL ($CONSORTIUM_SERVER)")
        sub.add_argument("--token", default=os.environ.get("CONSORTIUM_TOKEN"), help="an API token ($CONSORTIUM_TOKEN)")
        sub.add_argument("--timeout", type=float, default=300.0, help="seconds per HTTP request (default 300)")
        sub.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    keygen = commands.add_parser("keygen", help="generate an Ed25519 signing key and print its public JWK")
    keygen.add_argument("--out", required=True, metavar="KEY.jwk", help="the private key file to write (mode 0600)")
    keygen.add_argument("--name", help="a name to put in the printed JWK (the server stores it)")
    keygen.add_argument("--force", action="store_true", help="replace an existing file")
    keygen.set_defaults(run=cmd_keygen)

    submit = commands.add_parser("submit", help="sign and submit a batch from a CSV or JSON Lines file")
    remote(submit)
    submit.add_argument("--key", required=True, metavar="KEY.jwk", help="your member's private key (registered)")
    submit.add_argument("--member", required=True, metavar="SLUG", help="your member's slug")
    submit.add_argument("--ref", required=True, help="your reference for this batch, unique per member (1-128 chars)")
    submit.add_argument("--labels", help="default labels for items without their own, comma-separated")
    submit.add_argument("--note", help="a note for the voters")
    submit.add_argument("file", metavar="FILE", help="CSV (kind,value[,labels;…][,quality]) or JSON Lines")
    submit.set_defaults(run=cmd_submit)

    mirror = commands.add_parser("mirror", help="apply new releases to a local SQLite mirror, verifying each")
    remote(mirror)
    mirror.add_argument("--db", required=True, metavar="MIRROR.sqlite3")
    mirror.add_argument("--page-size", type=int, default=1000, help="releases per request (1-1000)")
    mirror.set_defaults(run=cmd_mirror)

    bootstrap = commands.add_parser("bootstrap", help="load the signed snapshot into a new mirror")
    remote(bootstrap)
    bootstrap.add_argument("--db", required=True, metavar="MIRROR.sqlite3")
    bootstrap.add_argument("--replace", action="store_true", help="replace a mirror that already holds data")
    bootstrap.set_defaults(run=cmd_bootstrap)

    match = commands.add_parser("match", help="look values up among the published fingerprints")
    remote(match)
    match.add_argument("pairs", nargs="*", metavar="KIND VALUE", help="kind and value, repeated")
    match.add_argument("--file", help="queries from a CSV (kind,value) or JSON Lines file")
    match.add_argument("--max-distance", type=int, help="PDQ: the largest Hamming distance (default: the policy's)")
    match.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    match.set_defaults(run=cmd_match)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (see the module's docstring)."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProblemError as exc:
        print(f"REFUSED by the server: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        print("interrupted (a mirror keeps every release it committed before)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
