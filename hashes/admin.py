"""The analysts' workplace for batches, votes, fingerprints, labels, policy, incidents and
deliveries. Who sees what follows the API's roles (`consortium.admin_access`); every write goes
through the same service as the API and leaves the same audit entry.

Pages beyond the stock change lists live in `hashes.admin_pages`: the batch page (items, votes,
the vote form), the fingerprint page (sources, opinions, history, dispute or affirm), the search
and the bulk vote form.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil

from consortium.admin_access import ADMINS, EVERYONE, PEOPLE, SUBMITTERS, VOTERS, RoleAdmin
from consortium.audit.services import Actor
from consortium.errors import DomainError
from hashes import admin_pages, selectors
from hashes.models import (
    Batch,
    BatchItem,
    Delivery,
    Fingerprint,
    Incident,
    Label,
    Policy,
    ReviewQueue,
    Submission,
    Vote,
)
from hashes.services.incidents import incident_close, incident_declare
from hashes.services.labels import label_create, label_set_retired, label_update
from hashes.services.opinions import fingerprint_retract
from hashes.services.policy import EDITABLE, policy_update
from hashes.services.propagation import delivery_redeliver
from members.models import Role
from members.permissions import STAFF

STAFF_ONLY = frozenset({STAFF})


def pill(value: str, label: str) -> str:
    return format_html('<span class="pill pill-{}">{}</span>', value, label)


def label_chips(slugs: list[str]) -> str:
    if not slugs:
        return "—"
    return format_html_join(" ", '<span class="chip">{}</span>', ((slug,) for slug in slugs))


@admin.register(Label)
class LabelAdmin(RoleAdmin):
    view_roles = EVERYONE
    staff_add = staff_change = True
    action_roles = {"manage": STAFF_ONLY}
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

    @admin.action(description="Retire selected labels (new batches may not use them)", permissions=["manage"])
    def retire(self, request: HttpRequest, queryset: QuerySet[Label]) -> None:
        moved = sum(label_set_retired(actor=Actor.of(request.user), label=label, retired=True) for label in queryset)
        self.message_user(request, f"Retired {moved} label(s).", messages.SUCCESS)

    @admin.action(description="Restore selected labels", permissions=["manage"])
    def restore(self, request: HttpRequest, queryset: QuerySet[Label]) -> None:
        moved = sum(label_set_retired(actor=Actor.of(request.user), label=label, retired=False) for label in queryset)
        self.message_user(request, f"Restored {moved} label(s).", messages.SUCCESS)


class BatchAdminBase(RoleAdmin):
    """What the three batch lists share: columns, the vote actions and the batch page."""

    view_roles = PEOPLE
    action_roles = {"vote": VOTERS, "withdraw": SUBMITTERS}
    list_display = ["batch", "member", "status_pill", "labels_chips", "item_count", "outcomes", "tally", "received_at", "closes"]
    list_filter = ["status", "member", ("incident", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["ref", "member__slug", "note"]
    list_select_related = ["member", "incident"]
    list_per_page = 50
    actions = ["approve", "reject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        return super().get_queryset(request).annotate(
            _approvals=Count("votes", filter=Q(votes__decision=Vote.Decision.APPROVE)),
            _rejections=Count("votes", filter=Q(votes__decision=Vote.Decision.REJECT)),
        )

    @admin.display(description="batch", ordering="id")
    def batch(self, obj: Batch) -> str:
        url = reverse("admin:hashes_batch_change", args=[obj.pk])
        return format_html('<a href="{}"><strong>#{}</strong> {}</a>', url, obj.pk, obj.ref)

    @admin.display(description="status", ordering="status")
    def status_pill(self, obj: Batch) -> str:
        text = obj.get_status_display()
        if obj.incident_id and obj.status == Batch.Status.VOTING:
            return format_html("{} {}", pill(obj.status, text), pill("incident", "fast-track"))
        return pill(obj.status, text)

    @admin.display(description="labels")
    def labels_chips(self, obj: Batch) -> str:
        return label_chips(obj.labels)

    @admin.display(description="new / dup / near")
    def outcomes(self, obj: Batch) -> str:
        if obj.new_count is None:
            return "deduplicating…"
        return format_html(
            '<span class="num-new">{}</span> / <span class="num-dup">{}</span> / <span class="num-near">{}</span>',
            obj.new_count, obj.duplicate_count, obj.near_duplicate_count,
        )

    @admin.display(description="votes")
    def tally(self, obj: Batch) -> str:
        if obj.approvals_required is None:
            return "—"
        return format_html(
            '<span class="num-new">✔ {}/{}</span> <span class="num-dup">✘ {}/{}</span>',
            obj._approvals, obj.approvals_required, obj._rejections, obj.rejections_required,
        )

    @admin.display(description="received", ordering="received")
    def received_at(self, obj: Batch) -> str:
        return f"{obj.received:%Y-%m-%d %H:%M}"

    @admin.display(description="closes", ordering="closes_at")
    def closes(self, obj: Batch) -> str:
        if obj.status != Batch.Status.VOTING or obj.closes_at is None:
            return "—"
        if obj.closes_at <= timezone.now():
            return "closed (expiring)"
        return f"in {timeuntil(obj.closes_at)}"

    @admin.action(description="Approve selected batches (one reason for all)", permissions=["vote"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse | None:
        return admin_pages.bulk_vote(self, request, queryset, decision=Vote.Decision.APPROVE)

    @admin.action(description="Reject selected batches (one reason for all)", permissions=["vote"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Batch]) -> HttpResponse | None:
        return admin_pages.bulk_vote(self, request, queryset, decision=Vote.Decision.REJECT)

    list_title = "Batches"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {"title": self.list_title, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Every list opens the same batch page, which the "Batches" admin serves.
        return HttpResponseRedirect(reverse("admin:hashes_batch_change", args=[object_id]))


@admin.register(Batch)
class BatchAdmin(BatchAdminBase):
    """Every batch, as the API shows them to people (not to readers)."""

    list_title = "All batches of all members"
    date_hierarchy = "received"

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return admin_pages.batch_page(self, request, object_id)


@admin.register(ReviewQueue)
class ReviewQueueAdmin(BatchAdminBase):
    """Batches awaiting the caller's member's vote, oldest first. Staff see fast-tracked batches
    awaiting the staff vote."""

    view_roles = SUBMITTERS
    list_filter = [("incident", admin.RelatedOnlyFieldListFilter), "member"]
    ordering = ["voting_opened", "id"]
    list_display = ["batch", "member", "status_pill", "labels_chips", "item_count", "outcomes", "nearest", "tally", "waiting", "closes"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        user = request.user
        title = (
            f"Review queue: batches awaiting {user.member.name}'s vote, oldest first" if user.member_id
            else "Review queue: fast-tracked batches awaiting the staff vote, oldest first"
        )
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    @admin.display(description="waiting", ordering="voting_opened")
    def waiting(self, obj: Batch) -> str:
        return f"{timesince(obj.voting_opened)}" if obj.voting_opened else "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        queue = selectors.review_queue(user=request.user).values("pk")
        return super().get_queryset(request).filter(pk__in=queue)

    @admin.display(description="nearest existing matches")
    def nearest(self, obj: Batch) -> str:
        if not obj.duplicate_count and not obj.near_duplicate_count:
            return "none"
        url = reverse("admin:hashes_batch_change", args=[obj.pk]) + "?outcome=near_duplicate"
        return format_html('<a href="{}">{} exact, {} near</a>', url, obj.duplicate_count or 0, obj.near_duplicate_count or 0)


@admin.register(Submission)
class SubmissionAdmin(BatchAdminBase):
    """The caller's member's own batches, newest first, with withdrawal."""

    list_title = "Our submissions, newest first"
    view_roles = SUBMITTERS
    member_path = "member"
    ordering = ["-id"]
    list_filter = ["status", ("incident", admin.RelatedOnlyFieldListFilter)]
    list_display = ["batch", "status_pill", "labels_chips", "item_count", "outcomes", "tally", "received_at", "closes", "submitted_by"]
    actions = ["withdraw"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and bool(request.user.member_id)

    def get_queryset_for(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(member_id=user.member_id)  # "ours", even for an auditor

    @admin.action(description="Withdraw selected batches (only while received or voting)", permissions=["withdraw"])
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        from hashes.services.batches import batch_withdraw

        done, refused = 0, []
        for batch in queryset.select_related("member"):
            try:
                batch_withdraw(user=request.user, batch=batch)
                done += 1
            except DomainError as exc:
                refused.append(f"#{batch.pk} {batch.ref}: {exc}")
        if done:
            self.message_user(request, f"Withdrew {done} batch(es).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


@admin.register(BatchItem)
class BatchItemAdmin(RoleAdmin):
    view_roles = PEOPLE
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
class FingerprintAdmin(RoleAdmin):
    """Published fingerprints; the search (exact and PDQ near) and each fingerprint's page."""

    view_roles = EVERYONE
    action_roles = {"retract": STAFF_ONLY, "opine": SUBMITTERS}
    list_display = ["id", "kind", "value_short", "status", "labels_chips", "added_seq", "removed_seq", "retraction_queued"]
    list_filter = ["kind", "status"]
    search_fields = ["=value"]
    show_full_result_count = False
    actions = ["retract"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Fingerprint]:
        return super().get_queryset(request).filter(added_seq__isnull=False)

    @admin.display(description="value")
    def value_short(self, obj: Fingerprint) -> str:
        return format_html('<code title="{}">{}</code>', obj.value, obj.value if len(obj.value) <= 64 else obj.value[:61] + "…")

    @admin.display(description="labels")
    def labels_chips(self, obj: Fingerprint) -> str:
        return label_chips(obj.labels)

    def get_urls(self) -> list[Any]:
        search = self.admin_site.admin_view(lambda request: admin_pages.fingerprint_search(self, request))
        return [path("search/", search, name="hashes_fingerprint_search"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        search_url = reverse("admin:hashes_fingerprint_search")
        return super().changelist_view(request, {"search_url": search_url, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return admin_pages.fingerprint_page(self, request, object_id)

    @admin.action(description="Retract selected fingerprints (queued for the next release)", permissions=["retract"])
    def retract(self, request: HttpRequest, queryset: QuerySet[Fingerprint]) -> None:
        try:
            moved = sum(fingerprint_retract(user=request.user, fingerprint=f, reason="retracted by staff in the admin") for f in queryset)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Queued {moved} fingerprint(s) for retraction.", messages.SUCCESS)


@admin.register(Policy)
class PolicyAdmin(RoleAdmin):
    """Everyone reads the policy; staff edit it, and every change goes through policy_update."""

    view_roles = EVERYONE
    staff_change = True
    list_display = ["__str__", "approvals_required", "rejections_required", "voting_window", "pdq_max_distance", "pdq_min_quality", "dispute_threshold", "incident_approvals_required", "updated"]
    fields = [*EDITABLE, "updated"]
    readonly_fields = ["updated"]

    def save_model(self, request: HttpRequest, obj: Policy, form: Any, change: bool) -> None:
        try:
            policy_update(actor=Actor.of(request.user), changes={f: form.cleaned_data[f] for f in form.changed_data if f in EDITABLE})
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(Incident)
class IncidentAdmin(RoleAdmin):
    """Staff declare an incident (add) and close it (action); batches carrying its label that open
    for voting meanwhile are fast-tracked (the batches' "fast-track" status)."""

    view_roles = EVERYONE
    staff_add = True
    action_roles = {"manage": STAFF_ONLY}
    list_display = ["title", "label", "state", "declared", "declared_by", "closed", "fast_tracked"]
    list_filter = [("closed", admin.EmptyFieldListFilter), "label"]
    fields = ["label", "title"]
    actions = ["close"]

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None) -> list[str]:
        return ["label", "title"] if obj else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return super().get_queryset(request).select_related("label", "declared_by").annotate(_batches=Count("batches"))

    @admin.display(description="state")
    def state(self, incident: Incident) -> str:
        return pill("incident", "open — fast-tracking") if incident.closed is None else pill("closed", "closed")

    @admin.display(description="fast-tracked batches", ordering="_batches")
    def fast_tracked(self, incident: Incident) -> str:
        url = reverse("admin:hashes_batch_changelist") + f"?incident__id__exact={incident.pk}"
        return format_html('<a href="{}">{} batch(es)</a>', url, incident._batches)

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        if change:
            return
        try:
            obj.pk = incident_declare(user=request.user, label=obj.label, title=obj.title).pk
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Close selected incidents", permissions=["manage"])
    def close(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        moved = sum(incident_close(user=request.user, incident=incident) for incident in queryset)
        self.message_user(request, f"Closed {moved} incident(s).", messages.SUCCESS)


@admin.register(Vote)
class VoteAdmin(RoleAdmin):
    view_roles = PEOPLE
    list_display = ["batch", "member", "user", "decision", "reason", "updated"]
    list_filter = ["decision", "member"]
    list_select_related = ["batch__member", "member", "user"]


@admin.register(Delivery)
class DeliveryAdmin(RoleAdmin):
    """Deliveries to endpoints: a member's own, or every one for staff and auditors. Redelivery
    sends the same webhook-id again."""

    view_roles = frozenset({Role.ADMIN, Role.ANALYST, Role.AUDITOR})
    member_path = "endpoint__member"
    action_roles = {"redeliver": ADMINS | {Role.ANALYST, STAFF}}
    list_display = ["id", "event", "endpoint_link", "status_pill", "attempts", "last_status_code", "last_error_short", "latency_ms", "next_attempt", "created"]
    list_help = "Each release and batch event, per endpoint; retried with backoff for at least 24 hours. Redelivery sends the same webhook-id, so receivers drop what they already have."
    list_filter = ["status", "event", "endpoint__member"]
    search_fields = ["webhook_id", "endpoint__url"]
    list_select_related = ["endpoint__member"]
    exclude = ["body"]
    readonly_fields = ["endpoint", "event", "webhook_id", "status", "attempts", "next_attempt", "last_status_code", "last_error", "latency_ms", "created", "delivered"]
    show_full_result_count = False
    actions = ["redeliver"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The endpoints list links here per endpoint; the queryset is scoped already.
        return lookup == "endpoint__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="endpoint", ordering="endpoint")
    def endpoint_link(self, obj: Delivery) -> str:
        return format_html("{} <small>{}</small>", obj.endpoint.member.slug, obj.endpoint.url)

    @admin.display(description="status", ordering="status")
    def status_pill(self, obj: Delivery) -> str:
        return pill(obj.status, obj.get_status_display())

    @admin.display(description="last error")
    def last_error_short(self, obj: Delivery) -> str:
        return obj.last_error[:80]

    @admin.action(description="Redeliver selected deliveries (same webhook-id)", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = 0
        for delivery in queryset:
            delivery_redeliver(actor=Actor.of(request.user), delivery=delivery)
            count += 1
        self.message_user(request, f"Queued {count} deliveries again.", messages.SUCCESS)
