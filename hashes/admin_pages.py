"""The workplace's own pages inside the admin: the batch page with its vote form, the bulk vote
form, the fingerprint search and the fingerprint page. They parse, call a service, and render;
permissions come from the owning model admin (`consortium.admin_access`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from consortium.admin_access import SUBMITTERS, VOTERS, may
from consortium.audit.models import AuditEntry
from consortium.audit.services import Actor
from consortium.errors import DomainError
from hashes import selectors
from hashes.kinds import NAMES, REGISTRY
from hashes.models import Batch, BatchItem, Fingerprint, FingerprintSource, Opinion, Release, Vote
from hashes.services.batches import batch_withdraw
from hashes.services.opinions import fingerprint_retract, opinion_set
from hashes.services.votes import vote_cast

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

ITEMS_PER_PAGE = 100


def _context(model_admin: ModelAdmin, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **extra,
    }


def _vote_refusal(user: Any, batch: Batch) -> str | None:
    """Why this user may not vote on this batch now, or None if they may (the service decides
    again when the vote arrives)."""
    if not may(user, VOTERS):
        return "Your role does not vote; analysts and admins do."
    if batch.status != Batch.Status.VOTING:
        return f"The batch is {batch.get_status_display().lower()}; votes are taken only while it is voting."
    if user.member_id and batch.member_id == user.member_id:
        return "This is your member's batch: the other members vote on it."
    if not user.member_id and batch.incident_id is None:
        return "Staff vote only on batches fast-tracked by an open incident."
    return None


def batch_page(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """One batch: header, quorum and votes, the vote form, and its items with their outcomes."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    batch = model_admin.get_object(request, object_id)
    if batch is None or not model_admin.has_view_permission(request, batch):
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.model._meta, object_id)
    user = request.user
    if request.method == "POST":
        return _batch_post(request, batch)
    votes = list(Vote.objects.filter(batch=batch).select_related("member", "user").order_by("created"))
    ours = next((v for v in votes if v.member_id == user.member_id and (user.member_id or v.member_id is None)), None)
    outcome = request.GET.get("outcome") or ""
    if outcome not in BatchItem.Outcome.values:
        outcome = ""
    items = selectors.batch_items(batch=batch, outcome=outcome or None)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    counts = dict(BatchItem.objects.filter(batch=batch).values_list("outcome").annotate(n=Count("id")).values_list("outcome", "n"))
    context = _context(
        model_admin, request, f"Batch #{batch.pk} — {batch.member.slug}/{batch.ref}",
        batch=batch,
        original=batch,
        votes=votes,
        our_vote=ours,
        approvals=sum(v.decision == Vote.Decision.APPROVE for v in votes),
        rejections=sum(v.decision == Vote.Decision.REJECT for v in votes),
        vote_refusal=_vote_refusal(user, batch),
        may_withdraw=(
            user.member_id == batch.member_id and may(user, SUBMITTERS)
            and batch.status in (Batch.Status.RECEIVED, Batch.Status.VOTING)
        ),
        page=page,
        outcome=outcome,
        outcomes=[(value, label, counts.get(value, 0)) for value, label in BatchItem.Outcome.choices],
        closes_in=batch.closes_at - timezone.now() if batch.closes_at and batch.status == Batch.Status.VOTING else None,
        release=Release.objects.filter(batch=batch).first(),
        queue_url=reverse("admin:hashes_reviewqueue_changelist"),
    )
    return TemplateResponse(request, "admin/hashes/batch/page.html", context)


def _batch_post(request: HttpRequest, batch: Batch) -> HttpResponse:
    here = reverse("admin:hashes_batch_change", args=[batch.pk])
    action = request.POST.get("do")
    try:
        if action == "vote":
            if not may(request.user, VOTERS):
                raise PermissionDenied
            decision = request.POST.get("decision", "")
            reason = request.POST.get("reason", "").strip()
            if decision == Vote.Decision.REJECT and not reason:
                messages.error(request, "A rejection needs a reason: say what is wrong with the batch.")
                return HttpResponseRedirect(here)
            _, decided = vote_cast(user=request.user, batch=batch, decision=decision, reason=reason)
            outcome = "" if decided.status == Batch.Status.VOTING else f" The batch is now {decided.get_status_display().lower()}."
            messages.success(request, f"Your vote ({decision}) is recorded.{outcome}")
        elif action == "withdraw":
            if not may(request.user, SUBMITTERS):
                raise PermissionDenied
            batch_withdraw(user=request.user, batch=batch)
            messages.success(request, "The batch is withdrawn.")
        else:
            messages.error(request, "Nothing to do: choose approve, reject or withdraw.")
    except DomainError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(here)


def bulk_vote(model_admin: ModelAdmin, request: HttpRequest, queryset: QuerySet[Batch], *, decision: str) -> HttpResponse | None:
    """The admin action behind "approve/reject selected": first a page asking for the one reason,
    then one vote per batch through `vote_cast`; refusals are listed per batch."""
    if "apply" in request.POST:
        reason = request.POST.get("reason", "").strip()
        if decision == Vote.Decision.REJECT and not reason:
            messages.error(request, "A rejection needs a reason; nothing was voted.")
            return None
        done, decided, refused = 0, 0, []
        for batch in queryset.select_related("member"):
            try:
                _, after = vote_cast(user=request.user, batch=batch, decision=decision, reason=reason)
            except DomainError as exc:
                refused.append(f"#{batch.pk} {batch.member.slug}/{batch.ref}: {exc}")
                continue
            done += 1
            decided += after.status != Batch.Status.VOTING
        if done:
            messages.success(request, f"Voted {decision} on {done} batch(es); {decided} of them decided by it.")
        for line in refused:
            messages.error(request, line)
        return None
    context = _context(
        model_admin, request, f"{decision.capitalize()} {queryset.count()} batch(es)",
        batches=queryset.select_related("member"),
        decision=decision,
        action=request.POST.get("action", decision),
        selected=request.POST.getlist("_selected_action"),
        select_across=request.POST.get("select_across", "0"),
    )
    return TemplateResponse(request, "admin/hashes/batch/bulk_vote.html", context)


def fingerprint_search(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Search by exact value of any kind, and by PDQ near match within a chosen distance."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    policy_distance = selectors.policy_current().pdq_max_distance
    value = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if kind not in REGISTRY:
        kind = ""
    try:
        distance = min(max(int(request.GET.get("distance", policy_distance)), 0), policy_distance)
    except ValueError:
        distance = policy_distance
    hits: list[selectors.SearchHit] = []
    readings: list[str] = []
    error = ""
    if value:
        try:
            hits, readings = selectors.fingerprint_search(value=value, kind=kind or None, max_distance=distance)
        except DomainError as exc:
            error = str(exc)
    ids = [hit.fingerprint.pk for hit in hits]
    sources: dict[int, list[str]] = {}
    for fid, slug in FingerprintSource.objects.filter(fingerprint_id__in=ids).order_by("member__slug").values_list("fingerprint_id", "member__slug"):
        sources.setdefault(fid, []).append(slug)
    opinions = {
        row["fingerprint_id"]: row
        for row in Opinion.objects.filter(fingerprint_id__in=ids).values("fingerprint_id").annotate(
            affirm=Count("id", filter=Q(opinion=Opinion.Kind.AFFIRM)), dispute=Count("id", filter=Q(opinion=Opinion.Kind.DISPUTE))
        )
    }
    rows = [
        {"hit": hit, "sources": sources.get(hit.fingerprint.pk, []), "opinions": opinions.get(hit.fingerprint.pk)}
        for hit in hits
    ]
    context = _context(
        model_admin, request, "Fingerprint search",
        q=value, kind=kind, kinds=NAMES, distance=distance, policy_distance=policy_distance,
        rows=rows, readings=readings, error=error, searched=bool(value),
    )
    return TemplateResponse(request, "admin/hashes/fingerprint/search.html", context)


def fingerprint_page(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """One published fingerprint: labels, sources, opinions, history and its releases; members'
    analysts dispute or affirm it here, staff retract it."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    queryset = model_admin.get_queryset(request).prefetch_related(
        Prefetch("sources", queryset=FingerprintSource.objects.select_related("member", "batch")),
        Prefetch("opinions", queryset=Opinion.objects.select_related("member", "user")),
    )
    fingerprint = queryset.filter(pk=object_id).first() if object_id.isdigit() else None
    if fingerprint is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.model._meta, object_id)
    here = reverse("admin:hashes_fingerprint_change", args=[fingerprint.pk])
    user = request.user
    if request.method == "POST":
        try:
            if request.POST.get("do") == "opinion":
                if not may(user, SUBMITTERS):
                    raise PermissionDenied
                opinion_set(user=user, fingerprint=fingerprint, opinion=request.POST.get("opinion", ""), reason=request.POST.get("reason", "").strip())
                messages.success(request, "Your member's opinion is recorded.")
            elif request.POST.get("do") == "retract":
                queued = fingerprint_retract(user=user, fingerprint=fingerprint, reason=request.POST.get("reason", "").strip())
                messages.success(request, "Queued for retraction: the next release removes it." if queued else "It was already queued for retraction.")
            else:
                messages.error(request, "Nothing to do: choose affirm, dispute or retract.")
        except DomainError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(here)
    seqs = {s.seq for s in fingerprint.sources.all()} | {fingerprint.added_seq} | ({fingerprint.removed_seq} if fingerprint.removed_seq else set())
    releases = []
    for release in Release.objects.filter(seq__in=[s for s in seqs if s]).order_by("seq"):
        op = "remove" if release.seq == fingerprint.removed_seq else "add"
        releases.append({"release": release, "op": op, "url": reverse("release-detail", kwargs={"seq": release.seq})})
    history = AuditEntry.objects.filter(subject=f"fingerprint:{fingerprint.pk}").order_by("index")[:200]
    ours = next((o for o in fingerprint.opinions.all() if o.member_id == user.member_id), None) if user.member_id else None
    context = _context(
        model_admin, request, f"{fingerprint.kind} fingerprint #{fingerprint.pk}",
        fingerprint=fingerprint,
        original=fingerprint,
        releases=releases,
        history=history,
        our_opinion=ours,
        may_opine=may(user, SUBMITTERS) and bool(user.member_id) and fingerprint.status == Fingerprint.Status.ACTIVE,
        may_retract=user.is_staff and fingerprint.status == Fingerprint.Status.ACTIVE and fingerprint.retraction_queued is None,
        search_url=reverse("admin:hashes_fingerprint_search"),
        actor=Actor.of(user),
    )
    return TemplateResponse(request, "admin/hashes/fingerprint/page.html", context)
