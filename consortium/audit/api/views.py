"""The transparency log's API (PROTOCOL §9): checkpoint, vkey, entries, proofs and the export.

Views parse query parameters and render; the tree, proofs and signing live in
consortium.audit (selectors, services, export). Every authenticated role may read the log and
its proofs (a member checks its own entries' inclusion); only auditors and staff may export.
"""
from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium.audit.export import audit_export_stream
from consortium.audit.logkey import log_vkey
from consortium.audit.selectors import (
    audit_consistency,
    audit_entry_bodies,
    audit_inclusion,
    audit_log_size,
    latest_checkpoint,
)
from consortium.audit.services import checkpoint_sign
from consortium.errors import InvalidInput
from members.models import Role
from members.permissions import ANY, STAFF

# Entries served by one /audit/entries request; larger ranges are a 422 that says so.
MAX_ENTRIES_RANGE = 10_000
AUDITORS = frozenset({Role.AUDITOR, STAFF})
JSON_LINES = "application/jsonl"
_DECIMAL = re.compile(r"[0-9]{1,18}")


class IgnoreAccept(BaseContentNegotiation):
    """These views answer text, JSON Lines or gzip whatever `Accept` says; errors stay problem JSON."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _number(request: Request, name: str, *, default: int | None = None) -> int:
    """A non-negative decimal query parameter; a 422 problem naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise InvalidInput(f"The query parameter {name} is required.", pointer="", code=f"missing_{name}")
        return default
    if not _DECIMAL.fullmatch(raw):
        raise InvalidInput(
            f"The query parameter {name} must be a whole number from 0, not {raw[:40]!r}.", pointer="", code=f"invalid_{name}"
        )
    return int(raw)


def _within_log(name: str, value: int, size: int) -> None:
    if value > size:
        raise InvalidInput(
            f"{name}={value} is beyond the log, which has {size} entries now.", pointer="", code="beyond_log"
        )


class AuditView(APIView):
    content_negotiation_class = IgnoreAccept
    roles = {"GET": ANY}


class CheckpointView(AuditView):
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note); signs one if none exists."""

    @extend_schema(responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="signed note")})
    def get(self, request: Request) -> HttpResponse:
        checkpoint = latest_checkpoint() or checkpoint_sign()
        return HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")


class VkeyView(AuditView):
    """The verifier key of the checkpoints: `<origin>+<hex key ID>+<base64 key>`."""

    @extend_schema(responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="note verifier key")})
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(log_vkey(), content_type="text/plain; charset=utf-8")


class EntriesView(AuditView):
    """Entries [start, end) as JSON Lines: exactly the leaf bytes, each followed by a newline."""

    @extend_schema(
        parameters=[
            OpenApiParameter("start", int, description="first index (default 0)"),
            OpenApiParameter("end", int, description=f"index after the last (default: start + {MAX_ENTRIES_RANGE} or the log's size)"),
        ],
        responses={(200, JSON_LINES): OpenApiResponse(OpenApiTypes.STR, description="one entry per line")},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        size = audit_log_size()
        start = _number(request, "start", default=0)
        end = _number(request, "end", default=min(start + MAX_ENTRIES_RANGE, max(size, start)))
        if start > end:
            raise InvalidInput(f"start={start} is after end={end}; end is exclusive.", pointer="", code="invalid_range")
        _within_log("end", end, size)
        if end - start > MAX_ENTRIES_RANGE:
            raise InvalidInput(
                f"At most {MAX_ENTRIES_RANGE} entries per request; ask for [{start}, {start + MAX_ENTRIES_RANGE}) and go on from there.",
                pointer="",
                code="range_too_large",
            )

        def lines() -> Iterator[bytes]:
            for body in audit_entry_bodies(start, end):
                yield body + b"\n"

        return StreamingHttpResponse(lines(), content_type=JSON_LINES)


class InclusionProofView(AuditView):
    """The RFC 9162 inclusion proof of entry `index` in the tree of the first `size` entries."""

    @extend_schema(
        parameters=[OpenApiParameter("index", int, required=True), OpenApiParameter("size", int, required=True)],
        responses=inline_serializer(
            "InclusionProof",
            {
                "index": serializers.IntegerField(),
                "size": serializers.IntegerField(),
                "leaf_hash": serializers.CharField(help_text="base64"),
                "root": serializers.CharField(help_text="base64 root of the tree of `size` entries"),
                "hashes": serializers.ListField(child=serializers.CharField(), help_text="base64, leaf upwards"),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        index, size = _number(request, "index"), _number(request, "size")
        _within_log("size", size, audit_log_size())
        if index >= size:
            raise InvalidInput(f"index={index} is not below size={size}.", pointer="", code="index_out_of_range")
        proof, leaf, root = audit_inclusion(index, size)
        return Response({"index": index, "size": size, "leaf_hash": _b64(leaf), "root": _b64(root), "hashes": [_b64(h) for h in proof]})


class ConsistencyProofView(AuditView):
    """The RFC 9162 consistency proof that the tree of `old` entries is a prefix of the one of `new`."""

    @extend_schema(
        parameters=[OpenApiParameter("old", int, required=True), OpenApiParameter("new", int, required=True)],
        responses=inline_serializer(
            "ConsistencyProof",
            {
                "old": serializers.IntegerField(),
                "new": serializers.IntegerField(),
                "old_root": serializers.CharField(),
                "new_root": serializers.CharField(),
                "hashes": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        old, new = _number(request, "old"), _number(request, "new")
        if old > new:
            raise InvalidInput(f"old={old} is larger than new={new}.", pointer="", code="invalid_range")
        _within_log("new", new, audit_log_size())
        proof, old_root, new_root = audit_consistency(old, new)
        return Response(
            {"old": old, "new": new, "old_root": _b64(old_root), "new_root": _b64(new_root), "hashes": [_b64(h) for h in proof]}
        )


class ExportView(AuditView):
    """The whole log as of a fresh checkpoint, as a streamed .tar.gz (auditors and staff)."""

    roles = {"GET": AUDITORS}

    @extend_schema(responses={(200, "application/gzip"): OpenApiResponse(OpenApiTypes.BINARY, description="tar.gz")})
    def get(self, request: Request) -> StreamingHttpResponse:
        checkpoint = checkpoint_sign()
        response = StreamingHttpResponse(audit_export_stream(checkpoint), content_type="application/gzip")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{checkpoint.size}.tar.gz"'
        return response
