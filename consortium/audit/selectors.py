"""Reads of the transparency log: sizes, roots and proofs from the stored tree nodes."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from django.db import connection

from client.consortium_client import merkle
from consortium.audit.models import AuditEntry, AuditHead, Checkpoint


def audit_log_size() -> int:
    """The number of committed entries (every node and entry below it is committed too)."""
    return AuditHead.objects.values_list("size", flat=True).get(pk=1)


def tree_node_hashes(nodes: Sequence[merkle.Node]) -> Mapping[merkle.Node, bytes]:
    """The stored hashes of `nodes`: one query, one primary-key probe per node.

    Raw SQL because this is the proof endpoints' whole cost: the ORM's composite `pk__in` spends
    longer compiling than PostgreSQL spends answering, and its OR-list plans as a bitmap scan.
    """
    wanted = sorted(set(nodes))
    if not wanted:
        return {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                'SELECT n.level, n."index", n.digest FROM unnest(%s::smallint[], %s::bigint[]) AS w(level, "index") '
                'JOIN audit_audittreenode n ON n.level = w.level AND n."index" = w."index"',
                [[level for level, _ in wanted], [index for _, index in wanted]],
            )
        else:
            pairs = ", ".join(["(%s, %s)"] * len(wanted))
            cursor.execute(
                f'SELECT level, "index", digest FROM audit_audittreenode WHERE (level, "index") IN (VALUES {pairs})',
                [value for node in wanted for value in node],
            )
        return {(level, index): bytes(digest) for level, index, digest in cursor.fetchall()}


def audit_root(size: int) -> bytes:
    return merkle.tree_root(size, tree_node_hashes)


def audit_inclusion_proof(index: int, size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, size, tree_node_hashes)


def audit_consistency_proof(old: int, new: int) -> list[bytes]:
    return merkle.consistency_proof(old, new, tree_node_hashes)


def audit_inclusion(index: int, size: int) -> tuple[list[bytes], bytes, bytes]:
    """(proof, leaf hash, root of `size`) from one read of the tree."""
    ranges = merkle.inclusion_ranges(index, size)
    *proof, leaf, root = merkle.hash_ranges([*ranges, (index, index + 1), (0, size)], tree_node_hashes)
    return proof, leaf, root


def audit_consistency(old: int, new: int) -> tuple[list[bytes], bytes, bytes]:
    """(proof, root of `old`, root of `new`) from one read of the tree."""
    ranges = merkle.consistency_ranges(old, new)
    *proof, old_root, new_root = merkle.hash_ranges([*ranges, (0, old), (0, new)], tree_node_hashes)
    return proof, old_root, new_root


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def audit_entry_bodies(start: int, end: int, *, chunk: int = 2000) -> Iterator[bytes]:
    """The leaf bytes of entries [start, end), in order, read `chunk` rows at a time by index range.

    Ranges by primary key, not OFFSET or a server-side cursor: each read is an index range scan,
    memory stays at one chunk, and it works inside or outside a transaction.
    """
    for low in range(start, end, chunk):
        high = min(low + chunk, end)
        rows = AuditEntry.objects.filter(index__gte=low, index__lt=high).order_by("index").values_list("body", flat=True)
        for body in rows:
            yield bytes(body)
