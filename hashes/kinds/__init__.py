"""The fingerprint kinds: a registry of small modules, one per kind (PROTOCOL §3).

Each module in this package defines `KIND`, an instance of `Kind`. Adding a kind is adding a
module here; nothing else in the code names kinds, except where a kind has a capability
(`near_duplicates`) that other code asks about.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Any

_HEX = re.compile(r"[0-9a-f]*")


class KindError(ValueError):
    """A value (or kind-specific field) this kind refuses. `field` names it, `code` says why."""

    def __init__(self, message: str, *, code: str, field: str = "value") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Checked:
    """A valid item's normalized value and the kind-specific fields worth keeping."""

    value: str
    extras: dict[str, Any]


class Kind:
    """Base of every kind: `name`, `normalize`, optional extras, optional distance."""

    name: str = ""
    description: str = ""
    # Kinds with a distance get near-duplicate detection and near matching (PDQ).
    near_duplicates: bool = False
    # Item members besides kind, value and labels that this kind accepts.
    extra_fields: frozenset[str] = frozenset()

    def normalize(self, value: Any) -> str:
        raise NotImplementedError

    def check_extras(self, item: dict[str, Any], *, min_quality: int) -> dict[str, Any]:
        """Validate kind-specific fields; return those to store. Unknown fields are refused."""
        return {}

    @property
    def fields(self) -> frozenset[str]:
        return frozenset({"kind", "value", "labels"}) | self.extra_fields

    def check(self, item: dict[str, Any], *, min_quality: int) -> Checked:
        unknown = set(item) - self.fields
        if unknown:
            field = sorted(unknown)[0]
            raise KindError(f"{self.name} items have no field {field!r}.", code="unknown_field", field=field)
        return Checked(value=self.normalize(item.get("value")), extras=self.check_extras(item, min_quality=min_quality))

    def check_many(self, items: list[dict[str, Any]], *, min_quality: int) -> list[Checked | KindError]:
        """`check` of each item, in order, an error in place of each refused one. Kinds may
        override it with a bulk fast path; the result must equal this loop's."""
        results: list[Checked | KindError] = []
        for item in items:
            try:
                results.append(self.check(item, min_quality=min_quality))
            except KindError as exc:
                results.append(exc)
        return results


class HexDigestKind(Kind):
    """A cryptographic digest written as a fixed number of hex digits; exact match only."""

    hex_digits: int = 0

    def normalize(self, value: Any) -> str:
        if not isinstance(value, str):
            raise KindError(f"A {self.name} value is a string of {self.hex_digits} hex digits.", code="invalid_type")
        text = value.strip().lower()
        if len(text) != self.hex_digits:
            raise KindError(
                f"A {self.name} value has {self.hex_digits} hex digits, not {len(text)}.", code="invalid_length"
            )
        if not _HEX.fullmatch(text):
            raise KindError(f"A {self.name} value has hex digits only (0-9, a-f).", code="invalid_hex")
        return text

    def check_many(self, items: list[dict[str, Any]], *, min_quality: int) -> list[Checked | KindError]:
        """Bulk fast path for the common case (every value well-formed, no extra fields): one
        regular-expression match over all values instead of one per item. Any doubt: the exact loop."""
        fields = self.fields
        try:
            values = [item["value"].strip().lower() for item in items]
        except (KeyError, AttributeError, TypeError):
            return super().check_many(items, min_quality=min_quality)
        if (
            not all(len(v) == self.hex_digits for v in values)
            or not all(item.keys() <= fields for item in items)
            or not _HEX.fullmatch("".join(values))
        ):
            return super().check_many(items, min_quality=min_quality)
        if not self.extra_fields:
            empty: dict[str, Any] = {}
            return [Checked(value, empty) for value in values]
        extras = self.check_extras_many(items, min_quality=min_quality)
        if extras is None:
            return super().check_many(items, min_quality=min_quality)
        return [Checked(value, extra) for value, extra in zip(values, extras, strict=True)]

    def check_extras_many(self, items: list[dict[str, Any]], *, min_quality: int) -> list[dict[str, Any]] | None:
        """`check_extras` of every item, or None if any is refused (the caller then finds which)."""
        try:
            return [self.check_extras(item, min_quality=min_quality) for item in items]
        except KindError:
            return None


def _discover() -> dict[str, Kind]:
    found: dict[str, Kind] = {}
    for module in pkgutil.iter_modules(__path__):
        kind = getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
        if isinstance(kind, Kind):
            if kind.name in found:
                raise RuntimeError(f"two modules define the fingerprint kind {kind.name!r}")
            found[kind.name] = kind
    return found


REGISTRY: dict[str, Kind] = _discover()
NAMES: tuple[str, ...] = tuple(sorted(REGISTRY))


def get_kind(name: Any) -> Kind | None:
    return REGISTRY.get(name) if isinstance(name, str) else None
