"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs and their verification. Standard library only.

Leaves hash as SHA-256(0x00 ‖ entry), interior nodes as SHA-256(0x01 ‖ left ‖ right). A
*node* `(level, index)` is the root of the perfect subtree over leaves
`[index·2^level, (index+1)·2^level)`; any tree head or proof element is the fold of a few such
nodes (`range_nodes`), so a store that keeps every complete node answers roots and proofs with
O(log n) reads. The proof *plans* below (`inclusion_ranges`, `consistency_ranges`) say which
leaf ranges a proof hashes, in RFC 9162 order; `inclusion_proof`/`consistency_proof` turn a plan
into hashes through any `NodeHashes` lookup (a database, or `MemoryTree` for tests).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)
# Given the nodes a computation needs, returns their hashes (it may return more).
NodeHashes = Callable[[Sequence[Node]], Mapping[Node, bytes]]


class ProofError(ValueError):
    """A proof that does not verify, or a request for one that cannot exist."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size ≥ 2): RFC 9162's k."""
    return 1 << ((size - 1).bit_length() - 1)


# --- trees built leaf by leaf ---------------------------------------------------------------------


class CompactRange:
    """The right edge of a tree being built from leaf 0: one node per set bit of its size.

    `append` takes a leaf hash and returns the nodes that became complete with it (the leaf's
    own node included), which is exactly what a node store has to write. Memory is O(log n).
    """

    __slots__ = ("size", "_stack")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        """Resume at `size` from the hashes of `frontier_nodes(size)`, left to right."""
        if len(frontier) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes, not {len(frontier)}")
        self.size = size
        levels = [level for level, _ in frontier_nodes(size)]
        self._stack: list[tuple[int, bytes]] = list(zip(levels, frontier, strict=True))

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        index = self.size
        created: list[tuple[Node, bytes]] = [((0, index), leaf)]
        stack = self._stack
        level, digest = 0, leaf
        while index & 1:
            _, left = stack.pop()
            digest = node_hash(left, digest)
            level += 1
            index >>= 1
            created.append(((level, index), digest))
        stack.append((level, digest))
        self.size += 1
        return created

    def append_fast(self, leaf: bytes) -> None:
        """`append` without reporting the new nodes: the verifier's hot loop."""
        stack = self._stack
        index = self.size
        level = 0
        while index & 1:
            leaf = hashlib.sha256(b"\x01" + stack.pop()[1] + leaf).digest()
            level += 1
            index >>= 1
        stack.append((level, leaf))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest


def frontier_nodes(size: int) -> list[Node]:
    """The perfect subtrees a tree of `size` leaves splits into, left to right (largest first)."""
    return range_nodes(0, size)


# --- which nodes a hash needs ---------------------------------------------------------------------


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees covering leaves [start, end), left to right.

    `start` must be aligned as RFC 9162's recursion aligns it: a multiple of the largest power of
    two not above `end - start` (true of every range a root or proof hashes).
    """
    nodes: list[Node] = []
    position = start
    remaining = end - start
    for level in range(remaining.bit_length() - 1, -1, -1):
        if remaining >> level & 1:
            if position % (1 << level):
                raise ValueError(f"range [{start}, {end}) is not aligned on subtrees")
            nodes.append((level, position >> level))
            position += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a range from the hashes of its `range_nodes`, left to right."""
    if not hashes:
        return EMPTY_ROOT
    digest = hashes[-1]
    for left in reversed(hashes[:-1]):
        digest = node_hash(left, digest)
    return digest


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]) as leaf ranges, in proof order (leaf upwards)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 PROOF(old, D[0:new]) as leaf ranges, in proof order. Empty when old is 0 or new."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} to {new} leaves")
    if old == 0 or old == new:
        return []
    ranges: list[Range] = []
    start, end, m, whole = 0, new, old, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def hash_ranges(ranges: Sequence[Range], lookup: NodeHashes) -> list[bytes]:
    """The Merkle tree hashes of several leaf ranges, with one call of `lookup` for all their nodes."""
    plans = [range_nodes(start, end) for start, end in ranges]
    known = lookup([node for plan in plans for node in plan])
    try:
        return [fold([known[node] for node in plan]) for plan in plans]
    except KeyError as exc:
        raise ProofError(f"the node store lacks node {exc.args[0]}") from None


def tree_root(size: int, lookup: NodeHashes) -> bytes:
    return hash_ranges([(0, size)], lookup)[0] if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, lookup: NodeHashes) -> list[bytes]:
    return hash_ranges(inclusion_ranges(index, size), lookup)


def consistency_proof(old: int, new: int, lookup: NodeHashes) -> list[bytes]:
    return hash_ranges(consistency_ranges(old, new), lookup)


class MemoryTree:
    """Every complete node of a tree kept in a dict: tests, small logs, and the verifier's plans."""

    def __init__(self, leaves: Iterable[bytes] = (), *, hashed: bool = False) -> None:
        self.nodes: dict[Node, bytes] = {}
        self._range = CompactRange()
        for leaf in leaves:
            self.append(leaf if hashed else leaf_hash(leaf))

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, leaf: bytes) -> None:
        self.nodes.update(self._range.append(leaf))

    def lookup(self, nodes: Sequence[Node]) -> Mapping[Node, bytes]:
        return self.nodes

    def root(self, size: int | None = None) -> bytes:
        return tree_root(self.size if size is None else size, self.lookup)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(index, size, self.lookup)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, new, self.lookup)


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------------


def _check_hashes(*hashes: bytes) -> None:
    for digest in hashes:
        if not isinstance(digest, bytes | bytearray) or len(digest) != HASH_SIZE:
            raise ProofError("every hash is 32 bytes")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` implies for `leaf` at `index` in a tree of `size` leaves."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    _check_hashes(leaf, *proof)
    fn, sn, digest = index, size - 1, bytes(leaf)
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            digest = node_hash(digest, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return digest


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows `leaf` at `index` in the tree of `size` with `root`."""
    _check_hashes(root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root of size {size}")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless `proof` shows the tree of `old` leaves is a prefix of the one of `new`."""
    if not 0 <= old <= new:
        raise ProofError(f"a tree cannot shrink from {old} to {new} leaves")
    _check_hashes(old_root, new_root, *proof)
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("two trees of the same size are consistent only with equal roots and an empty proof")
        return
    if old == 0:
        if proof:
            raise ProofError("the consistency proof from an empty tree is empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:  # old is a power of two: its root is a node of the new tree
        path.insert(0, bytes(old_root))
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(sibling, fr)
            sr = node_hash(sibling, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the consistency proof does not lead to the root of size {old}")
    if sr != new_root:
        raise ProofError(f"the consistency proof does not lead to the root of size {new}")
