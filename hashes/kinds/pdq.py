from __future__ import annotations

from typing import Any

from hashes.kinds import HexDigestKind, KindError


class PDQ(HexDigestKind):
    """Meta's PDQ perceptual image hash: 256 bits. Near-duplicates by Hamming distance."""

    name = "pdq"
    description = "PDQ image hash, 64 hex digits (256 bits); near match by Hamming distance"
    hex_digits = 64
    near_duplicates = True
    extra_fields = frozenset({"quality"})

    def check_extras(self, item: dict[str, Any], *, min_quality: int) -> dict[str, Any]:
        if "quality" not in item:
            return {}
        quality = item["quality"]
        if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
            raise KindError("quality is a whole number from 0 to 100.", code="invalid_quality", field="quality")
        if quality < min_quality:
            raise KindError(
                f"quality {quality} is below the consortium's minimum of {min_quality}; such hashes match too loosely.",
                code="low_quality",
                field="quality",
            )
        return {"quality": quality}

    def check_extras_many(self, items: list[dict[str, Any]], *, min_quality: int) -> list[dict[str, Any]] | None:
        qualities = [item.get("quality") for item in items]
        if not all(q is None or (type(q) is int and min_quality <= q <= 100) for q in qualities):
            return None
        empty: dict[str, Any] = {}
        return [empty if q is None else {"quality": q} for q in qualities]

    @staticmethod
    def distance(a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()


KIND = PDQ()
