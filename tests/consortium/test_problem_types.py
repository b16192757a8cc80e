"""Every problem `type` the API answers with can be followed to what it means and what to do."""
from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils.html import escape

from consortium.errors import DomainError
from consortium.problems import PROBLEM_TYPES

pytestmark = pytest.mark.django_db


def subclasses(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]


def slugs_in_the_code() -> set[str]:
    found = {cls.slug for cls in subclasses(DomainError)}
    for path in [settings.BASE_DIR / "consortium" / "api.py", *settings.BASE_DIR.glob("*/api/*.py")]:
        found |= set(re.findall(r'slug="([a-z-]+)"', path.read_text()))
    return found


def test_every_problem_type_the_code_uses_is_described() -> None:
    used = slugs_in_the_code()
    assert {"validation-error", "invalid-signature", "body-too-large", "unauthenticated"} <= used
    assert used - set(PROBLEM_TYPES) == set()


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_each_problem_type_has_a_page(slug: str) -> None:
    page = Client().get(f"/problems/{slug}")
    assert page.status_code == 200 and escape(PROBLEM_TYPES[slug].remedy) in page.content.decode()
    as_json = Client().get(f"/problems/{slug}", HTTP_ACCEPT="application/json").json()
    assert as_json["type"] == f"/problems/{slug}" and as_json["status"] == PROBLEM_TYPES[slug].status


def test_the_type_of_a_real_answer_resolves_and_unknown_types_do_not() -> None:
    answer = Client().get("/api/v1/members/me")
    assert answer.status_code == 401
    assert Client().get(answer.json()["type"]).status_code == 200
    assert Client().get("/problems/no-such-problem").status_code == 404
