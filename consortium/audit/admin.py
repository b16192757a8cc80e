from __future__ import annotations

import base64
import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from consortium.admin_access import RoleAdmin
from consortium.audit.models import AuditEntry, Checkpoint
from consortium.audit.selectors import audit_log_size, latest_checkpoint
from members.models import Role


@admin.register(AuditEntry)
class AuditEntryAdmin(RoleAdmin):
    """The audit log, read-only: entries are appended by services and never edited. Staff and
    auditors read it here; everyone reads it through the API (PROTOCOL §9)."""

    view_roles = frozenset({Role.AUDITOR})

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

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return super().changelist_view(request, {"subtitle": checkpoint_status(), **(extra_context or {})})


def checkpoint_status() -> str:
    """One line for staff: how far the latest signed checkpoint trails the log."""
    size = audit_log_size()
    latest = latest_checkpoint()
    if latest is None:
        return f"{size} entries; no checkpoint signed yet"
    behind = size - latest.size
    state = "up to date" if behind == 0 else f"{behind} entries not yet in a checkpoint"
    return f"{size} entries; latest checkpoint: {latest.size} entries, signed {latest.created:%Y-%m-%d %H:%M:%S} UTC ({state})"


@admin.register(Checkpoint)
class CheckpointAdmin(RoleAdmin):
    """Signed checkpoints, read-only: the beat task and the API sign them."""

    view_roles = frozenset({Role.AUDITOR})

    list_display = ["size", "created", "root_base64"]
    fields = ["size", "created", "root_base64", "signed_note"]
    readonly_fields = fields

    @admin.display(description="root (base64)")
    def root_base64(self, obj: Checkpoint) -> str:
        return base64.b64encode(bytes(obj.root)).decode()

    @admin.display(description="signed note")
    def signed_note(self, obj: Checkpoint) -> str:
        return format_html("<pre>{}</pre>", obj.note)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return super().changelist_view(request, {"subtitle": checkpoint_status(), **(extra_context or {})})
