"""Who may call what. A view declares `roles`: HTTP method → the roles that may call it.

Roles are the member roles of PROTOCOL §1 plus `staff` (Django staff). A view without `roles`
is open to every authenticated user. A suspended member's users are refused (403) everywhere.
"""
from __future__ import annotations

from typing import Any

from rest_framework import exceptions, permissions

from members.models import Role

STAFF = "staff"
ANY = frozenset({Role.ADMIN, Role.ANALYST, Role.READER, Role.AUDITOR, STAFF})
# Roles that read members' own records (keys, tokens, users): not machines (readers).
PEOPLE = frozenset({Role.ADMIN, Role.ANALYST, Role.AUDITOR, STAFF})


def roles_of(user: Any) -> set[str]:
    roles = set()
    if user.role:
        roles.add(user.role)
    if user.is_staff:
        roles.add(STAFF)
    return roles


class RolePermission(permissions.BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated("Send 'Authorization: Bearer <token>'. Tokens come from your member's admin.")
        if user.member_id and not user.member.is_active:
            raise exceptions.PermissionDenied(
                f"Your member {user.member.slug!r} is suspended; contact the consortium's staff."
            )
        if not hasattr(view, request.method.lower()):
            return True  # DRF answers 405 Method Not Allowed next; no need to judge roles
        allowed = getattr(view, "roles", {}).get(request.method)
        if allowed is None:
            allowed = ANY if request.method in permissions.SAFE_METHODS or request.method == "OPTIONS" else frozenset()
        if roles_of(user) & set(allowed):
            return True
        have = ", ".join(sorted(roles_of(user))) or "none"
        need = ", ".join(sorted(allowed)) or "nobody"
        raise exceptions.PermissionDenied(f"{request.method} here needs the role {need}; you have {have}.")
