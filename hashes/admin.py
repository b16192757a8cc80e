"""The admin for batches, their items, labels and fingerprints. Writes go through services."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from consortium.audit.services import Actor
from consortium.errors import DomainError
from hashes.models import Batch, BatchItem, Delivery, Fingerprint, Incident, Label, Policy, Vote
from hashes.services.incidents import incident_close, incident_declare
from hashes.services.labels import label_create, label_set_retired, label_update
from hashes.services.opinions import fingerprint_retract
from hashes.services.policy import EDITABLE, policy_update
from hashes.services.propagation import delivery_redeliver


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "dimension", "retired"]
    list_filter = ["dimension", ("retired", admin.EmptyFieldListFilter)]
    search_fields = ["slug", "name", "description"]
    actions = ["retire", "restore"]

    def get_readonly_fields(self, request: HttpRequest, obj: Label | None = None) -> list[str]:
        return ["slug", "dimension", "created", "retired"] if obj else ["created", "retired"]

    def save_model(self, request: HttpRequest, obj: Label, form: Any, change: bool) -> None:
        actor = Actor.of(request.user)
        try:
            if change:
                label_update(actor=actor, label=obj, name=obj.name, description=obj.description)
            else:
                obj.pk = label_create(
                    actor=actor, slug=obj.slug, name=obj.name, dimension=obj.dimension, description=obj.description
                ).pk
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # retire instead: fingerprints keep their labels

    @admin.action(description="Retire selected labels (new batches may not use them)")
    def retire(self, request: HttpRequest, queryset: QuerySet[Label]) -> None:
        moved = sum(label_set_retired(actor=Actor.of(request.user), label=label, retired=True) for label in queryset)
        self.message_user(request, f"Retired {moved} label(s).", messages.SUCCESS)

    @admin.action(description="Restore selected labels")
    def restore(self, request: HttpRequest, queryset: QuerySet[Label]) -> None:
        moved = sum(label_set_retired(actor=Actor.of(request.user), label=label, retired=False) for label in queryset)
        self.message_user(request, f"Restored {moved} label(s).", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "member", "ref", "status", "item_count", "new_count", "duplicate_count", "near_duplicate_count", "incident", "received", "closes_at", "items_link"]
    list_filter = ["status", "member"]
    search_fields = ["ref", "member__slug", "payload_sha256"]
    date_hierarchy = "received"
    readonly_fields = [
        "member", "ref", "status", "issued_at", "received", "voting_opened", "decided", "labels", "note",
        "item_count", "new_count", "duplicate_count", "near_duplicate_count", "key", "signature", "payload_sha256", "envelope_sha256",
        "submitted_by", "items_link", "approvals_required", "rejections_required", "closes_at", "incident",
    ]
    list_select_related = ["member"]

    @admin.display(description="items")
    def items_link(self, batch: Batch) -> str:
        url = reverse("admin:hashes_batchitem_changelist") + f"?batch__id__exact={batch.pk}"
        return format_html('<a href="{}">{} items</a>', url, batch.item_count)


@admin.register(BatchItem)
class BatchItemAdmin(ReadOnlyAdmin):
    list_display = ["batch", "position", "kind", "value", "outcome", "nearest", "distance"]
    list_filter = ["outcome", "kind"]
    search_fields = ["value"]
    list_select_related = ["batch__member", "match_fingerprint"]
    show_full_result_count = False
    readonly_fields = ["batch", "position", "kind", "value", "labels", "quality", "outcome", "nearest", "distance"]
    exclude = ["match_fingerprint", "match_position"]

    @admin.display(description="nearest match")
    def nearest(self, item: BatchItem) -> str:
        if item.match_fingerprint_id:
            url = reverse("admin:hashes_fingerprint_change", args=[item.match_fingerprint_id])
            return format_html('<a href="{}">published {}</a>', url, item.match_fingerprint.value[:16] + "…")
        if item.match_position is not None:
            return f"item {item.match_position} of this batch"
        return "—"


@admin.register(Fingerprint)
class FingerprintAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "value", "status", "added_seq", "removed_seq", "retraction_queued", "created"]
    list_filter = ["kind", "status"]
    search_fields = ["value"]
    show_full_result_count = False
    actions = ["retract"]

    @admin.action(description="Retract selected fingerprints (queued for the next release)")
    def retract(self, request: HttpRequest, queryset: QuerySet[Fingerprint]) -> None:
        try:
            moved = sum(fingerprint_retract(user=request.user, fingerprint=f, reason="retracted by staff in the admin") for f in queryset)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Queued {moved} fingerprint(s) for retraction.", messages.SUCCESS)


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """Staff edit the one policy here; every change goes through policy_update (audited)."""

    list_display = ["__str__", "approvals_required", "rejections_required", "voting_window", "pdq_max_distance", "pdq_min_quality", "dispute_threshold", "incident_approvals_required", "updated"]
    fields = [*EDITABLE, "updated"]
    readonly_fields = ["updated"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        try:
            policy_update(actor=Actor.of(request.user), changes={f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE})
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Declare an incident (add) and close it (action); batches carrying its label that open for
    voting meanwhile are fast-tracked (see the batches' "incident" column)."""

    list_display = ["title", "label", "declared", "declared_by", "closed", "fast_tracked"]
    list_filter = [("closed", admin.EmptyFieldListFilter), "label"]
    fields = ["label", "title"]
    actions = ["close"]

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None) -> list[str]:
        return ["label", "title"] if obj else []

    @admin.display(description="fast-tracked batches")
    def fast_tracked(self, incident: Incident) -> int:
        return incident.batches.count()

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        if change:
            return
        try:
            obj.pk = incident_declare(user=request.user, label=obj.label, title=obj.title).pk
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Close selected incidents")
    def close(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        moved = sum(incident_close(user=request.user, incident=incident) for incident in queryset)
        self.message_user(request, f"Closed {moved} incident(s).", messages.SUCCESS)


@admin.register(Vote)
class VoteAdmin(ReadOnlyAdmin):
    list_display = ["batch", "member", "user", "decision", "reason", "updated"]
    list_filter = ["decision", "member"]
    list_select_related = ["batch__member", "member", "user"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every delivery to members' endpoints; staff redeliver in bulk (same webhook-id)."""

    list_display = ["id", "event", "endpoint", "status", "attempts", "last_status_code", "last_error", "latency_ms", "next_attempt", "created"]
    list_filter = ["status", "event", "endpoint__member"]
    search_fields = ["webhook_id", "endpoint__url"]
    list_select_related = ["endpoint__member"]
    exclude = ["body"]
    show_full_result_count = False
    actions = ["redeliver"]

    @admin.action(description="Redeliver selected deliveries")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset:
            delivery_redeliver(actor=Actor.of(request.user), delivery=delivery)
        self.message_user(request, f"Queued {queryset.count()} deliveries again.", messages.SUCCESS)
