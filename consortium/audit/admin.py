from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from consortium.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only: entries are appended by services and never edited."""

    list_display = ["index", "time", "action", "subject", "actor_member", "actor_user"]
    list_filter = ["action", "actor_member"]
    search_fields = ["subject", "actor_user", "action"]
    date_hierarchy = "time"
    fields = ["index", "time", "action", "subject", "actor_member", "actor_user", "entry"]
    readonly_fields = fields
    show_full_result_count = False  # COUNT(*) over millions of entries on every page is slow

    @admin.display(description="entry (JCS bytes as hashed)")
    def entry(self, obj: AuditEntry) -> str:
        pretty = json.dumps(json.loads(bytes(obj.body)), indent=2, ensure_ascii=False)
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", pretty)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
