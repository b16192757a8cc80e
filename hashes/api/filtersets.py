"""Query-parameter filters of the hashes API, validated: an unknown value is a 422 problem."""
from __future__ import annotations

from typing import Any

from consortium.api import validation_problem


def choice_param(params: Any, name: str, choices: list[str]) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise validation_problem(
            [{"pointer": "", "code": "invalid_choice", "message": f"{name} is one of {', '.join(choices)}."}],
            detail=f"The query parameter {name}={value!r} is not one of {', '.join(choices)}.",
        )
    return value
