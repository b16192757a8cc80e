"""Who sees and does what in the admin (the analysts' workplace).

The admin is open to consortium staff and to members' users with a role; what each sees follows
the same roles as the API (PROTOCOL §1, `members.permissions`):

- staff see and manage everything;
- an auditor reads everything and changes nothing;
- a member's admin, analyst and reader see only their own member's private records (tokens, keys,
  endpoints, deliveries), scoped by `member_path`; shared records (batches, fingerprints, labels,
  policy, incidents) they see as the API shows them.

A model admin declares the roles that may view it (`view_roles`), the path from its model to the
owning member (`member_path`, None for shared records) and, per custom action permission
`<name>`, the roles in `action_roles[name]`. Staff may do everything the class allows staff to;
writes still go through the services, which check again and write the audit entries.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from members.models import Role
from members.permissions import ANY, STAFF, roles_of

SUBMITTERS = frozenset({Role.ADMIN, Role.ANALYST})
# Who votes: a member's analysts and admins, and staff (on fast-tracked batches only).
VOTERS = SUBMITTERS | {STAFF}
ADMINS = frozenset({Role.ADMIN})
# Every role but the reader (a machine's sync and match account): people reading records.
PEOPLE = frozenset({Role.ADMIN, Role.ANALYST, Role.AUDITOR})
EVERYONE = frozenset(ANY - {STAFF})


def role_of(user: Any) -> str | None:
    """The one role that decides in the admin: staff first, then the member role."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return STAFF
    return user.role


def may(user: Any, roles: frozenset[str]) -> bool:
    return bool(roles_of(user) & set(roles)) if user.is_authenticated else False


def sees_everything(user: Any) -> bool:
    """Staff and auditors read every member's records; everyone else their own member's."""
    return user.is_staff or user.role == Role.AUDITOR


def member_scoped(user: Any, queryset: QuerySet[Any], member_path: str | None) -> QuerySet[Any]:
    """`queryset` as `user` may see it: everything for staff and auditors, or for shared records
    (`member_path` None); otherwise only the rows whose `member_path` is the user's member."""
    if member_path is None or sees_everything(user):
        return queryset
    if not user.member_id:
        return queryset.none()
    return queryset.filter(**{member_path: user.member_id})


class RoleAdmin(admin.ModelAdmin):
    """A model admin whose permissions come from roles, not from Django's per-model permissions."""

    view_roles: frozenset[str] = frozenset()
    member_path: str | None = None
    # Staff add, change and delete only where a subclass says so (and writes via services).
    staff_add = False
    staff_change = False
    action_roles: dict[str, frozenset[str]] = {}
    # One line under a list's title: where these records come from, what to do about them.
    list_help: str = ""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        if user.is_staff:
            return True
        if user.role not in self.view_roles:
            return False
        return obj is None or self.owns(user, obj)

    def owns(self, user: Any, obj: Model) -> bool:
        if self.member_path is None or sees_everything(user):
            return True
        return self.get_queryset_for(user, type(obj)._default_manager.filter(pk=obj.pk)).exists()

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.staff_add and request.user.is_staff

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.staff_change and request.user.is_staff

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # nothing here is deleted: it is retired, revoked, suspended or closed

    def get_queryset_for(self, user: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return member_scoped(user, queryset, self.member_path)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.get_queryset_for(request.user, super().get_queryset(request))

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        # Someone who sees only their own member's records has no use for a member filter.
        filters = list(super().get_list_filter(request))
        if self.member_path is None or sees_everything(request.user):
            return filters
        return [f for f in filters if "member" not in (f[0] if isinstance(f, tuple) else str(f))]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if self.list_help:
            extra_context = {"subtitle": self.list_help, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def response_action(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        # Django's admin turns a selected id that is not one into a 500 when it filters by it.
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError:
            self.message_user(request, "The selection names rows that are not ids here; select them again.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)

    def __getattr__(self, name: str) -> Any:
        # `@admin.action(permissions=["vote"])` asks `has_vote_permission(request)`.
        if name.startswith("has_") and name.endswith("_permission"):
            action = name[4 : -len("_permission")]
            if action in self.action_roles:
                return lambda request, *args: may(request.user, self.action_roles[action])
        raise AttributeError(name)
