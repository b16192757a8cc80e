from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from consortium.keys.models import ConsortiumKey


@admin.register(ConsortiumKey)
class ConsortiumKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are rotated by configuration and `manage.py consortium_keys`."""

    list_display = ["kid", "use", "created", "retired"]
    readonly_fields = ["kid", "use", "public_jwk", "created", "retired"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
