"""Releases (the signed delta feed), match look-ups and fingerprint details (PROTOCOL §6, §7)."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from consortium.api import Problem, validation_problem
from consortium.audit.models import AuditDocument
from consortium.audit.services import rfc3339
from hashes.models import Fingerprint, FingerprintSource, Release, ReleaseHead, Snapshot, SnapshotChunk
from hashes.selectors import match_queries
from members.permissions import ANY

MAX_RELEASES_PAGE = 1000
DEFAULT_RELEASES_PAGE = 100


def _int_param(request: Request, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise validation_problem(
            [{"pointer": "", "code": f"invalid_{name}", "message": f"{name} is a whole number {bound}."}],
            detail=f"The query parameter {name}={raw!r} is not a whole number {bound}.",
        )
    return value


def _conditional(request: Request, body: bytes, content_type: str = "application/json") -> HttpResponse:
    """Serve `body` with a strong ETag; 304 when the client already has it."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag in request.headers.get("If-None-Match", ""):
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


class ReleaseListView(APIView):
    """`?after=<seq>&limit=<n>`: releases after `seq`, oldest first, as signed envelopes."""

    roles = {"GET": ANY}

    @extend_schema(
        parameters=[OpenApiParameter("after", int), OpenApiParameter("limit", int)],
        responses={200: {"type": "object", "properties": {"releases": {"type": "array", "items": {"type": "object"}}, "latest_seq": {"type": "integer"}, "next": {"type": "string", "nullable": True}}}},
    )
    def get(self, request: Request) -> HttpResponse:
        after = _int_param(request, "after", 0, 0)
        limit = _int_param(request, "limit", DEFAULT_RELEASES_PAGE, 1, MAX_RELEASES_PAGE)
        latest = ReleaseHead.objects.values_list("seq", flat=True).first() or 0
        releases = list(Release.objects.filter(seq__gt=after).order_by("seq").values_list("seq", "envelope_sha256")[:limit])
        bodies = dict(AuditDocument.objects.filter(sha256__in=[sha for _, sha in releases]).values_list("sha256", "body"))
        last = releases[-1][0] if releases else after
        next_url = None
        if last < latest:
            next_url = reverse("release-list", request=request) + f"?after={last}&limit={limit}"
        # The envelopes are spliced in as stored: the exact bytes that were signed and logged.
        body = (
            b'{"releases":['
            + b",".join(bytes(bodies[sha]) for _, sha in releases)
            + b'],"latest_seq":'
            + str(latest).encode()
            + b',"next":'
            + (b"null" if next_url is None else b'"' + next_url.encode() + b'"')
            + b"}"
        )
        return _conditional(request, body)


class ReleaseDetailView(APIView):
    """One release envelope, exactly as signed."""

    roles = {"GET": ANY}

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request, seq: int) -> HttpResponse:
        release = get_object_or_404(Release, seq=seq)
        return _conditional(request, bytes(AuditDocument.objects.get(sha256=release.envelope_sha256).body))


class MatchQuerySerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField(max_length=4096, trim_whitespace=False)
    max_distance = serializers.IntegerField(required=False, min_value=0)


class MatchSerializer(serializers.Serializer):
    queries = MatchQuerySerializer(many=True, max_length=1000, min_length=1)


class MatchView(APIView):
    """Look values up among the published, active fingerprints: exact kinds by equality, PDQ
    within `max_distance` (default and maximum: the policy's distance)."""

    roles = {"POST": ANY}

    @extend_schema(request=MatchSerializer, responses={200: {"type": "object"}})
    def post(self, request: Request) -> Response:
        form = MatchSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response({"results": match_queries(form.validated_data["queries"])})


class FingerprintDetailView(APIView):
    """One fingerprint: its labels, sources, opinions, and the releases that added or removed it."""

    roles = {"GET": ANY}

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request, pk: int) -> Response:
        fingerprint = get_object_or_404(
            Fingerprint.objects.prefetch_related(
                Prefetch("sources", queryset=FingerprintSource.objects.select_related("member")), "opinions__member"
            ),
            pk=pk,
            added_seq__isnull=False,
        )
        body: dict[str, Any] = {
            "fingerprint": fingerprint.pk,
            "kind": fingerprint.kind,
            "value": fingerprint.value,
            "labels": fingerprint.labels,
            "quality": fingerprint.quality,
            "status": fingerprint.status,
            "retraction_queued": fingerprint.retraction_queued is not None,
            "sources": [{"member": s.member.slug, "batch": s.batch_id, "seq": s.seq} for s in fingerprint.sources.all()],
            "opinions": [
                {"member": o.member.slug, "opinion": o.opinion, "reason": o.reason, "updated": rfc3339(o.updated)}
                for o in fingerprint.opinions.all()
            ],
            "history": [
                {"op": "add", "seq": fingerprint.added_seq},
                *([{"op": "remove", "seq": fingerprint.removed_seq}] if fingerprint.removed_seq else []),
            ],
        }
        return Response(body)




def _latest_snapshot() -> Snapshot:
    snapshot = Snapshot.objects.exclude(sha256="").order_by("-seq").first()
    if snapshot is None:
        raise Problem(404, "No snapshot has been built yet; one is built every few minutes after the first release. Until then, sync with GET /api/v1/releases?after=0.", slug="no-snapshot")
    return snapshot


class SnapshotManifestView(APIView):
    """The signed manifest of the latest snapshot: `{"seq", "count", "sha256", "size"}`."""

    roles = {"GET": ANY}

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request: Request) -> HttpResponse:
        return _conditional(request, bytes(_latest_snapshot().manifest))


class SnapshotView(APIView):
    """The latest snapshot's body, streamed as JSON Lines (one fingerprint a line) in constant
    memory. Check it against the manifest: `X-Snapshot-Seq` names the seq it belongs to."""

    roles = {"GET": ANY}

    @extend_schema(responses={(200, "application/jsonl"): {"type": "string"}})
    def get(self, request: Request) -> HttpResponse:
        snapshot = _latest_snapshot()
        etag = f'"{snapshot.sha256}"'
        if etag in request.headers.get("If-None-Match", ""):
            response: HttpResponse = HttpResponseNotModified()
        else:
            chunk_ids = list(SnapshotChunk.objects.filter(snapshot=snapshot).order_by("number").values_list("id", flat=True))
            response = StreamingHttpResponse(_chunks(chunk_ids), content_type="application/jsonl")
            response["Content-Length"] = str(snapshot.size)
        response["ETag"] = etag
        response["X-Snapshot-Seq"] = str(snapshot.seq)
        return response


def _chunks(chunk_ids: list[int]) -> Iterator[bytes]:
    """One query per 4 MiB chunk: the process never holds more than one."""
    for chunk_id in chunk_ids:
        data = SnapshotChunk.objects.filter(id=chunk_id).values_list("data", flat=True).first()
        if data is None:  # pruned while streaming: the client's checksum will fail; stop here
            return
        yield bytes(data)
