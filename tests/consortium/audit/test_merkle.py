"""The pure RFC 9162 module against the RFC 6962 / transparency-dev reference vectors."""
from __future__ import annotations

import pytest

from client.consortium_client import merkle

# transparency-dev/merkle proof/verify_test.go: the eight test leaves and the roots of their prefixes.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (1-based leaf, size, proof) as in the reference file.
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
TREE = merkle.MemoryTree(LEAVES)


def root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size - 1])


def test_it_matches_the_rfc_6962_root_of_the_eight_test_leaves() -> None:
    assert TREE.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_it_matches_the_reference_root_of_every_prefix_of_the_test_leaves() -> None:
    assert [TREE.root(size).hex() for size in range(1, 9)] == ROOTS


def test_the_empty_tree_hashes_to_the_sha256_of_nothing() -> None:
    assert TREE.root(0).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_it_produces_and_verifies_the_reference_inclusion_proofs(leaf: int, size: int, proof: list[str]) -> None:
    assert [h.hex() for h in TREE.inclusion_proof(leaf - 1, size)] == proof
    merkle.verify_inclusion(leaf - 1, size, merkle.leaf_hash(LEAVES[leaf - 1]), [bytes.fromhex(h) for h in proof], root(size))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_it_produces_and_verifies_the_reference_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    assert [h.hex() for h in TREE.consistency_proof(old, new)] == proof
    merkle.verify_consistency(old, new, root(old), root(new), [bytes.fromhex(h) for h in proof])


@pytest.mark.parametrize(("leaf", "size", "proof"), [case for case in INCLUSION if case[2]])
def test_a_corrupted_inclusion_proof_is_refused(leaf: int, size: int, proof: list[str]) -> None:
    hashes = [bytes.fromhex(h) for h in proof]
    leaf_hash = merkle.leaf_hash(LEAVES[leaf - 1])
    probes = [
        (leaf - 2 if leaf > 1 else leaf, size, leaf_hash, hashes, root(size)),
        (leaf - 1, size * 2, leaf_hash, hashes, root(size)),
        (leaf - 1, size, merkle.leaf_hash(b"WrongLeaf"), hashes, root(size)),
        (leaf - 1, size, leaf_hash, hashes + [root(size)], root(size)),
        (leaf - 1, size, leaf_hash, hashes[:-1], root(size)),
        (leaf - 1, size, leaf_hash, [bytes([hashes[0][0] ^ 8]) + hashes[0][1:], *hashes[1:]], root(size)),
    ]
    for index, tree_size, leaf_hash_, path, expected in probes:
        if (index, tree_size) == (leaf - 1, size) and path == hashes and leaf_hash_ == leaf_hash:
            continue
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, tree_size, leaf_hash_, path, expected)


@pytest.mark.parametrize(("old", "new", "proof"), [case for case in CONSISTENCY if case[2]])
def test_a_corrupted_consistency_proof_is_refused(old: int, new: int, proof: list[str]) -> None:
    hashes = [bytes.fromhex(h) for h in proof]
    probes = [
        (old + 1, new, root(old), root(new), hashes),
        (old, new, root(new), root(old), hashes),
        (old, new, root(old), root(new), []),
        (old, new, root(old), root(new), hashes[:-1]),
        (old, new, root(old), root(new), hashes + [root(new)]),
        (old, new, root(old), root(new), [root(old), *hashes]),
        (old, new, root(old), root(new), [bytes([hashes[0][0] ^ 16]) + hashes[0][1:], *hashes[1:]]),
    ]
    for probe in probes:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*probe)


def test_proofs_of_every_pair_of_sizes_up_to_70_verify() -> None:
    tree = merkle.MemoryTree(str(n).encode() for n in range(70))
    for new in range(1, 71):
        for old in range(new + 1):
            merkle.verify_consistency(old, new, tree.root(old), tree.root(new), tree.consistency_proof(old, new))
        for index in range(new):
            merkle.verify_inclusion(index, new, merkle.leaf_hash(str(index).encode()), tree.inclusion_proof(index, new), tree.root(new))


def test_a_tree_resumed_from_its_frontier_continues_with_the_same_nodes() -> None:
    whole = merkle.MemoryTree(bytes([n]) for n in range(13))
    frontier = [whole.nodes[node] for node in merkle.frontier_nodes(13)]
    resumed = merkle.CompactRange(13, frontier)
    assert resumed.root() == whole.root()
    created = resumed.append(merkle.leaf_hash(b"\x0d"))
    whole.append(merkle.leaf_hash(b"\x0d"))
    assert dict(created) == {node: whole.nodes[node] for node in dict(created)}
    assert [node for node, _ in created] == [(0, 13), (1, 6)]


def test_a_shrinking_tree_has_no_consistency_proof() -> None:
    with pytest.raises(merkle.ProofError):
        merkle.consistency_ranges(5, 3)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(5, 3, root(5), root(3), [])
