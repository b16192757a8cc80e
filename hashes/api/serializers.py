from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from hashes.models import Batch, BatchItem, Delivery, Incident, Label, Policy
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
    closes_at = TimeField()
    quorum = serializers.SerializerMethodField()
    tallies = serializers.SerializerMethodField()
    your_vote = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id", "url", "member", "ref", "status", "issued_at", "received", "voting_opened", "closes_at", "decided",
            "labels", "note", "item_count", "dedup", "quorum", "incident", "tallies", "your_vote",
            "kid", "signature", "payload_sha256", "envelope_sha256", "items_url", "envelope_url",
        ]

    @extend_schema_field({"type": "object", "nullable": True, "properties": {"approvals_required": {"type": "integer"}, "rejections_required": {"type": "integer"}}})
    def get_quorum(self, batch: Batch) -> dict[str, int] | None:
        if batch.approvals_required is None:
            return None
        return {"approvals_required": batch.approvals_required, "rejections_required": batch.rejections_required}

    @extend_schema_field({"type": "object", "properties": {"approve": {"type": "integer"}, "reject": {"type": "integer"}}})
    def get_tallies(self, batch: Batch) -> dict[str, int]:
        votes = [vote.decision for vote in batch.votes.all()]  # prefetched by the selector
        return {"approve": votes.count("approve"), "reject": votes.count("reject")}

    @extend_schema_field({"type": "object", "nullable": True, "properties": {"decision": {"type": "string"}, "reason": {"type": "string"}}})
    def get_your_vote(self, batch: Batch) -> dict[str, str] | None:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        for vote in batch.votes.all():
            if (vote.member_id == user.member_id) if user.member_id else (vote.member_id is None and user.is_staff):
                return {"decision": vote.decision, "reason": vote.reason}
        return None

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


class VoteSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class OpinionSerializer(serializers.Serializer):
    opinion = serializers.ChoiceField(choices=["affirm", "dispute"])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class PolicySerializer(serializers.ModelSerializer):
    updated = TimeField()
    incident = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = [
            "approvals_required", "rejections_required", "voting_window", "pdq_max_distance", "pdq_min_quality",
            "dispute_threshold", "incident", "updated",
        ]

    @extend_schema_field({"type": "object"})
    def get_incident(self, policy: Policy) -> dict[str, Any]:
        open_incidents = Incident.objects.filter(closed__isnull=True).select_related("label")
        return {
            "approvals_required": policy.incident_approvals_required,
            "rule": "While staff have declared an incident, batches carrying its label need only this many approvals.",
            "open": [{"id": i.pk, "label": i.label.slug, "title": i.title, "declared": TimeField().to_representation(i.declared)} for i in open_incidents],
        }


class IncidentSerializer(serializers.ModelSerializer):
    label = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    declared = TimeField()
    closed = TimeField()

    class Meta:
        model = Incident
        fields = ["id", "label", "title", "declared", "closed"]


class DeliverySerializer(serializers.ModelSerializer):
    created = TimeField()
    next_attempt = TimeField()
    delivered = TimeField()

    class Meta:
        model = Delivery
        fields = ["id", "endpoint", "event", "webhook_id", "status", "attempts", "next_attempt", "last_status_code", "last_error", "latency_ms", "created", "delivered"]
