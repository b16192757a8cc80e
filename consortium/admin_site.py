"""The admin site as the analysts' workplace: staff and members' users with a role sign in.

Member users see their own member's records and the shared ones (see `consortium.admin_access`);
the index is the dashboard (`consortium.dashboard`).
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from members.models import Role
from members.permissions import STAFF


def may_enter(user: Any) -> bool:
    if not (user.is_active and user.is_authenticated):
        return False
    if user.is_staff:
        return True
    if user.role not in Role.values:
        return False
    return user.member_id is None or user.member.is_active


class WorkplaceLoginForm(AdminAuthenticationForm):
    """Lets members' users in, not only staff; says why when it refuses someone."""

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)
        if user.member_id and not user.member.is_active and not user.is_staff:
            raise forms.ValidationError(
                f"Your member {user.member.slug!r} is suspended; contact the consortium's staff.", code="suspended"
            )
        if not may_enter(user):
            raise forms.ValidationError(
                "This account has no role in the workplace; ask your member's admin to give it one.", code="no_role"
            )


class WorkplaceSite(admin.AdminSite):
    site_header = "Consortium workplace"
    site_title = "Consortium"
    index_title = "Dashboard"
    login_form = WorkplaceLoginForm
    index_template = "admin/dashboard.html"
    enable_nav_sidebar = True
    site_url = None  # no public site beside the API; the header links the API docs instead

    def has_permission(self, request: HttpRequest) -> bool:
        return may_enter(request.user)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        from consortium.admin_access import PEOPLE, SUBMITTERS, VOTERS, may

        context = super().each_context(request)
        user = request.user
        links = [("Dashboard", reverse("admin:index", current_app=self.name))]
        if user.is_authenticated and may(user, VOTERS):
            links.append(("Review queue", reverse("admin:hashes_reviewqueue_changelist", current_app=self.name)))
        if user.is_authenticated and user.member_id and may(user, SUBMITTERS):
            links.append(("Our submissions", reverse("admin:hashes_submission_changelist", current_app=self.name)))
        if user.is_authenticated and may(user, PEOPLE | {STAFF}):
            links.append(("All batches", reverse("admin:hashes_batch_changelist", current_app=self.name)))
        links.append(("Search fingerprints", reverse("admin:hashes_fingerprint_search", current_app=self.name)))
        context["workplace_links"] = links
        return context

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from hashes.dashboard import dashboard_context

        return super().index(request, {**dashboard_context(request.user), **(extra_context or {})})

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        # The day's work first: hashes (queue, batches, search), then members, then the log.
        order = {"hashes": 0, "members": 1, "audit": 2, "consortium_keys": 3}
        apps = super().get_app_list(request, app_label)
        return sorted(apps, key=lambda app: order.get(app["app_label"], 9))
