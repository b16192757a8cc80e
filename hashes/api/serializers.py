from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from hashes.models import Batch, BatchItem, Label
from members.api.serializers import TimeField


class LabelSerializer(serializers.ModelSerializer):
    created = TimeField()
    retired = TimeField()

    class Meta:
        model = Label
        fields = ["slug", "name", "dimension", "description", "created", "retired"]


class EnvelopeSerializer(serializers.Serializer):
    """A signed batch: `{"payload": {...}, "signature": "<detached JWS>"}` (PROTOCOL §2, §4)."""

    payload = serializers.DictField()
    signature = serializers.CharField()


class BatchAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.URLField()


class BatchSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    member = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    kid = serializers.CharField(source="key.kid")
    issued_at = TimeField()
    received = TimeField()
    voting_opened = TimeField()
    decided = TimeField()
    dedup = serializers.SerializerMethodField()
    items_url = serializers.SerializerMethodField()
    envelope_url = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id", "url", "member", "ref", "status", "issued_at", "received", "voting_opened", "decided",
            "labels", "note", "item_count", "dedup", "kid", "signature", "payload_sha256", "items_url", "envelope_url",
        ]

    def _url(self, name: str, batch: Batch) -> str:
        return reverse(name, kwargs={"pk": batch.pk}, request=self.context.get("request"))

    def get_url(self, batch: Batch) -> str:
        return self._url("batch-detail", batch)

    def get_items_url(self, batch: Batch) -> str:
        return self._url("batch-items", batch)

    def get_envelope_url(self, batch: Batch) -> str:
        return self._url("batch-envelope", batch)

    @extend_schema_field(
        {"type": "object", "nullable": True, "properties": {k: {"type": "integer"} for k in ("new", "duplicate", "near_duplicate")}}
    )
    def get_dedup(self, batch: Batch) -> dict[str, int] | None:
        if batch.new_count is None:
            return None  # still deduplicating
        return {"new": batch.new_count, "duplicate": batch.duplicate_count, "near_duplicate": batch.near_duplicate_count}


class BatchItemSerializer(serializers.ModelSerializer):
    match = serializers.SerializerMethodField()

    class Meta:
        model = BatchItem
        fields = ["position", "kind", "value", "labels", "quality", "outcome", "match"]

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "description": "What it duplicates: a published fingerprint, or an earlier item (position) of this batch.",
            "properties": {
                "fingerprint": {"type": "integer", "nullable": True},
                "value": {"type": "string", "nullable": True},
                "position": {"type": "integer", "nullable": True},
                "distance": {"type": "integer"},
            },
        }
    )
    def get_match(self, item: BatchItem) -> dict[str, Any] | None:
        if item.match_fingerprint_id is None and item.match_position is None:
            return None
        return {
            "fingerprint": item.match_fingerprint_id,
            "value": item.match_fingerprint.value if item.match_fingerprint_id else None,
            "position": item.match_position,
            "distance": item.distance,
        }
