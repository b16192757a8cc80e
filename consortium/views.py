"""Operational endpoints: liveness, readiness, the consortium's public keys, problem types."""
from __future__ import annotations

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consortium.api import PROBLEM_BASE, ProblemJSONResponse, problem_body
from consortium.celery import app as celery_app
from consortium.keys.selectors import consortium_jwks
from consortium.problems import PROBLEM_TYPES


def problem_type(request: HttpRequest, slug: str) -> HttpResponse:
    """What a problem `type` means and what to do: HTML, or JSON when the client asks for it."""
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise Http404(f"There is no problem type {slug!r}.")
    uri = f"{PROBLEM_BASE}{slug}"
    if "json" in request.headers.get("Accept", ""):
        return JsonResponse({"type": uri, **problem._asdict()})
    return TemplateResponse(request, "problem_type.html", {"problem": problem, "type": uri})


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Checks nothing else, so a database outage restarts nothing."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers a query and the broker accepts a connection."""
    failures = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the reason is shown to the operator
        failures["database"] = str(exc)[:200]
    if not celery_app.conf.task_always_eager:
        try:
            with celery_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:
            failures["broker"] = str(exc)[:200]
    if failures:
        return ProblemJSONResponse(
            problem_body(503, detail="Not ready: " + "; ".join(f"{k}: {v}" for k, v in failures.items()), checks=failures)
        )
    return JsonResponse({"status": "ready", "database": "ok", "broker": "eager" if celery_app.conf.task_always_eager else "ok"})


class JWKSView(APIView):
    """The consortium's public signing keys, retired ones included, each with `created` and `retired`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses=inline_serializer("JWKS", {"keys": serializers.ListField(child=serializers.DictField())}),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response(consortium_jwks(), headers={"Cache-Control": "public, max-age=300"})
