"""Members, users, tokens, keys and endpoints in the workplace. Staff manage them all; a member's
people see their own member's (see `consortium.admin_access`). Writes go through
members.services, so the admin leaves the same audit entries as the API."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from consortium.admin_access import ADMINS, EVERYONE, PEOPLE, RoleAdmin, sees_everything
from consortium.audit.services import Actor
from consortium.errors import DomainError
from members.models import ApiToken, Endpoint, Member, MemberKey, Role, User
from members.permissions import STAFF
from members.services.endpoints import endpoint_update
from members.services.keys import key_revoke
from members.services.members import member_create, member_set_status
from members.services.tokens import token_revoke
from members.services.users import user_create, user_set_role

# Roles, not Django groups, decide what people do here (consortium.admin_access).
admin.site.unregister(Group)


class UserInline(admin.TabularInline):
    model = User
    fields = ["username", "role", "is_active", "last_login"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return sees_everything(request.user)


class KeyInline(admin.TabularInline):
    model = MemberKey
    fields = ["kid", "name", "created", "revoked"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return sees_everything(request.user)


@admin.register(Member)
class MemberAdmin(RoleAdmin):
    """The member directory: everyone reads it (as GET /members); staff add, rename, suspend."""

    view_roles = EVERYONE
    staff_add = staff_change = True
    action_roles = {"manage": frozenset({STAFF})}
    list_display = ["slug", "name", "status", "user_count", "active_keys", "created"]
    list_filter = ["status"]
    search_fields = ["slug", "name"]
    actions = ["suspend", "reactivate"]
    inlines = [UserInline, KeyInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Member | None = None) -> list[str]:
        # Status changes only through the actions, so that each one is logged by the service.
        return ["slug", "status", "created"] if obj else ["status", "created"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Member]:
        return super().get_queryset(request).annotate(
            _users=Count("users", distinct=True),
            _keys=Count("keys", filter=Q(keys__revoked__isnull=True), distinct=True),
        )

    @admin.display(description="users", ordering="_users")
    def user_count(self, obj: Member) -> int:
        return obj._users

    @admin.display(description="active keys", ordering="_keys")
    def active_keys(self, obj: Member) -> int:
        return obj._keys

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        if change:
            Member.objects.filter(pk=obj.pk).update(name=obj.name)  # the name is not audited state
            return
        created = member_create(actor=Actor.of(request.user), slug=obj.slug, name=obj.name)
        obj.pk = created.pk

    @admin.action(description="Suspend selected members (their tokens stop working at once)", permissions=["manage"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Member]) -> None:
        moved = sum(member_set_status(actor=Actor.of(request.user), member=m, status=Member.Status.SUSPENDED) for m in queryset)
        self.message_user(request, f"Suspended {moved} member(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected members", permissions=["manage"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Member]) -> None:
        moved = sum(member_set_status(actor=Actor.of(request.user), member=m, status=Member.Status.ACTIVE) for m in queryset)
        self.message_user(request, f"Reactivated {moved} member(s).", messages.SUCCESS)


@admin.register(User)
class UserAdmin(RoleAdmin, DjangoUserAdmin):
    """Staff manage every user; a member's admins, analysts and auditors see their member's."""

    view_roles = PEOPLE
    member_path = "member"
    staff_add = staff_change = True
    list_display = ["username", "member", "role", "is_staff", "is_active", "last_login"]
    list_filter = ["role", "is_staff", "is_active", "member"]
    search_fields = ["username", "email", "member__slug"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Membership", {"fields": ("member", "role")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "member", "role", "password1", "password2")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        return ["member", "last_login", "date_joined"] if obj else []

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        actor = Actor.of(request.user)
        try:
            if not change:
                created = user_create(
                    actor=actor,
                    username=obj.username,
                    member=obj.member,
                    role=obj.role,
                    password=form.cleaned_data.get("password1"),
                )
                obj.pk = created.pk
                return
            old_role = User.objects.values_list("role", flat=True).get(pk=obj.pk)
            new_role, obj.role = obj.role, old_role
            super().save_model(request, obj, form, change)  # profile fields; the role below
            if new_role != old_role:
                user_set_role(actor=actor, user=obj, role=new_role)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(ApiToken)
class ApiTokenAdmin(RoleAdmin):
    """Tokens are listed and revoked here; the secret exists only in the answer that created it.
    As in the API, a member's admin sees the member's tokens and everyone else only their own."""

    view_roles = EVERYONE
    action_roles = {"revoke": EVERYONE | {STAFF}}
    list_help = "Tokens are created by a member's admin through the API (POST /api/v1/members/me/tokens) or `manage.py token_create`; the secret is shown once."

    list_display = ["prefix", "user", "name", "created", "expires", "last_used", "revoked"]
    list_filter = ["revoked", "user__member"]
    search_fields = ["prefix", "user__username", "name"]
    fields = ["prefix", "user", "name", "created", "expires", "last_used", "revoked"]
    readonly_fields = fields
    actions = ["revoke"]

    def get_queryset_for(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if user.is_staff:
            return queryset
        if user.role == Role.ADMIN and user.member_id:
            return queryset.filter(user__member_id=user.member_id)
        return queryset.filter(user=user)

    def owns(self, user: Any, obj: Any) -> bool:
        return self.get_queryset_for(user, ApiToken.objects.filter(pk=obj.pk)).exists()

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        moved = sum(token_revoke(actor=Actor.of(request.user), token=t) for t in queryset.select_related("user"))
        self.message_user(request, f"Revoked {moved} token(s).", messages.SUCCESS)


@admin.register(MemberKey)
class MemberKeyAdmin(RoleAdmin):
    """Members' public signing keys: a member's people see their own, staff and auditors all."""

    view_roles = PEOPLE
    member_path = "member"
    action_roles = {"revoke": ADMINS | {STAFF}}
    list_help = "Members register their public keys through the API (POST /api/v1/members/me/keys, by admins; the client's keygen makes one)."
    list_display = ["kid", "member", "name", "created", "revoked"]
    list_filter = ["member", "revoked"]
    search_fields = ["kid", "member__slug", "name"]
    fields = ["kid", "member", "name", "public_jwk", "created", "created_by", "revoked"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description="Revoke selected keys (new signatures by them are refused)", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[MemberKey]) -> None:
        moved = sum(key_revoke(actor=Actor.of(request.user), key=k) for k in queryset.select_related("member"))
        self.message_user(request, f"Revoked {moved} key(s).", messages.SUCCESS)


@admin.register(Endpoint)
class EndpointAdmin(RoleAdmin):
    """Members' webhook endpoints (secrets never shown): a member's people see their own with
    their deliveries; its admins (and staff) enable and disable them. Endpoints are created and
    their secrets rotated through the API, which shows the secret once."""

    view_roles = PEOPLE
    member_path = "member"
    action_roles = {"manage": ADMINS | {STAFF}}
    list_help = "Endpoints are registered, and their secrets rotated, through the API (POST /api/v1/members/me/endpoints, by admins), which shows the secret once."
    list_display = ["member", "url", "events", "enabled", "health", "disabled_reason", "created"]
    list_filter = ["enabled", "member"]
    search_fields = ["url", "member__slug"]
    fields = ["member", "url", "events", "description", "enabled", "disabled_reason", "failing_since", "previous_secret_expires", "created"]
    readonly_fields = fields
    actions = ["enable", "disable"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Endpoint]:
        return super().get_queryset(request).select_related("member").annotate(
            _pending=Count("deliveries", filter=Q(deliveries__status="pending")),
            _failed=Count("deliveries", filter=Q(deliveries__status="failed")),
        )

    @admin.display(description="deliveries")
    def health(self, obj: Endpoint) -> str:
        url = reverse("admin:hashes_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">{} retrying, {} failed</a>', url, obj._pending, obj._failed)

    @admin.action(description="Enable selected endpoints (deliveries resume)", permissions=["manage"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected endpoints (deliveries wait)", permissions=["manage"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[Endpoint], enabled: bool) -> None:
        actor = Actor.of(request.user)
        changed = 0
        for endpoint in queryset:
            try:
                changed += endpoint_update(actor=actor, endpoint=endpoint, changes={"enabled": enabled}).enabled == enabled
            except DomainError as exc:
                self.message_user(request, f"{endpoint.url}: {exc}", messages.ERROR)
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {changed} endpoint(s).", messages.SUCCESS)
