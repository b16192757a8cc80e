from __future__ import annotations

from django.contrib import admin

from consortium.admin_access import PEOPLE, RoleAdmin
from consortium.keys.models import ConsortiumKey


@admin.register(ConsortiumKey)
class ConsortiumKeyAdmin(RoleAdmin):
    """Read-only: keys are rotated by configuration and `manage.py consortium_keys`. The public
    keys are public (JWKS), so people of every member may look."""

    view_roles = PEOPLE

    list_display = ["kid", "use", "created", "retired"]
    readonly_fields = ["kid", "use", "public_jwk", "created", "retired"]
