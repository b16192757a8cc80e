"""Cross-cutting API pieces: RFC 9457 problem documents, body limits, pagination, rate limits.

Every error the API returns is `application/problem+json` with `type`, `title`, `status` and
`detail`; validation errors add `errors: [{pointer, code, message}]` where `pointer` is a JSON
Pointer into the request body. The problem types are listed in README.md ("Errors").
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, pagination, parsers, throttling
from rest_framework.response import Response

from consortium.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"
MAX_LISTED_ERRORS = 1000


def problem_type(slug: str) -> str:
    """The `type` URI of a problem; relative, resolved against the API's own origin."""
    return f"{PROBLEM_BASE}{slug}"


class ProblemJSONResponse(JsonResponse):
    def __init__(self, body: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE, **kwargs)


def problem_body(
    status: int, *, detail: str, slug: str | None = None, title: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": problem_type(slug) if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }


class Problem(exceptions.APIException):
    """An API error with its own problem type; raise it from services' callers (views)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail)
        self.status_code = status
        self.slug = slug
        self.title = title
        self.errors = errors
        self.headers = headers or {}


def validation_problem(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    total = len(errors)
    listed = errors[:MAX_LISTED_ERRORS]
    return Problem(
        422,
        detail or f"The request has {total} invalid value{'s' if total != 1 else ''}; see errors.",
        slug="validation-error",
        title="Invalid request",
        errors=listed,
    )


def _escape_pointer_token(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def flatten_errors(detail: Any, pointer: str = "") -> Iterable[dict[str, str]]:
    """Turn DRF's nested error detail into JSON-Pointer rows, in request order."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                yield from flatten_errors(value, pointer)
            else:
                yield from flatten_errors(value, f"{pointer}/{_escape_pointer_token(key)}")
    elif isinstance(detail, list):
        if all(isinstance(item, (str, exceptions.ErrorDetail)) for item in detail):
            for item in detail:
                yield {"pointer": pointer, "code": getattr(item, "code", "invalid"), "message": str(item)}
        else:
            for index, item in enumerate(detail):
                if item:  # DRF's ListSerializer puts {} where an element was valid
                    yield from flatten_errors(item, f"{pointer}/{index}")
    else:
        yield {"pointer": pointer, "code": getattr(detail, "code", "invalid"), "message": str(detail)}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, answering every error as a problem document."""
    if isinstance(exc, DomainError):
        errors = exc.errors
        if errors is None and exc.pointer is not None:
            errors = [{"pointer": exc.pointer, "code": exc.code, "message": exc.message}]
        exc = Problem(exc.status, exc.message, slug=exc.slug, title=exc.title, errors=errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else "No such object, or it is not yours to see.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django log it and answer 500

    headers: dict[str, str] = {}
    if isinstance(exc, Problem):
        body = problem_body(exc.status_code, detail=str(exc.detail), slug=exc.slug, title=exc.title)
        if exc.errors is not None:
            body["errors"] = exc.errors
        headers.update(exc.headers)
    elif isinstance(exc, exceptions.ValidationError):
        problem = validation_problem(list(flatten_errors(exc.detail)))
        body = problem_body(422, detail=str(problem.detail), slug=problem.slug, title=problem.title)
        body["errors"] = problem.errors
    elif isinstance(exc, exceptions.ParseError):
        body = problem_body(400, detail=str(exc.detail), slug="malformed-body", title="Malformed request body")
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        headers["Retry-After"] = str(wait)
        body = problem_body(429, detail=f"Too many requests for your member; retry in {wait} s.", slug="rate-limited")
    elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        body = problem_body(401, detail=str(exc.detail), slug="unauthenticated")
    else:
        body = problem_body(exc.status_code, detail=str(exc.detail))

    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        request = context.get("request")
        view = context.get("view")
        if request is not None and view is not None:
            header = view.get_authenticate_header(request)
            if header:
                headers["WWW-Authenticate"] = header
    # Imported here: rest_framework.views reads DEFAULT_PARSER_CLASSES, which point into this module.
    from rest_framework.views import set_rollback

    set_rollback()
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


# --- Django-level handlers: paths DRF never sees (unknown URLs, oversize bodies, crashes) -------


def _wants_problem(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/.well-known/", "/healthz", "/readyz"))


def not_found_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_problem(request):
        return ProblemJSONResponse(problem_body(404, detail=f"There is nothing at {request.path}. See /api/v1/docs."))
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error_handler(request: HttpRequest) -> HttpResponse:
    if _wants_problem(request):
        return ProblemJSONResponse(
            problem_body(500, detail="The server failed on this request. It has been logged; retry later.")
        )
    from django.views.defaults import server_error

    return server_error(request)


def bad_request_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_problem(request):
        return ProblemJSONResponse(problem_body(400, detail=str(exception) or "Bad request."))
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def permission_denied_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_problem(request):
        return ProblemJSONResponse(problem_body(403, detail=str(exception) or "Forbidden."))
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def body_too_large(limit: int) -> dict[str, Any]:
    return problem_body(
        413,
        detail=f"The request body is larger than this endpoint's limit of {limit} bytes. Split it into smaller requests.",
        slug="body-too-large",
        max_bytes=limit,
    )


def body_limit_of(view: Any) -> int:
    """A view's body limit: the setting its `max_body_setting` names, else API_MAX_BODY_BYTES."""
    return getattr(settings, getattr(view, "max_body_setting", "API_MAX_BODY_BYTES"))


def body_limit_for(request: HttpRequest) -> int:
    """The body limit of the view a request is routed to."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return settings.API_MAX_BODY_BYTES
    return body_limit_of(getattr(match.func, "cls", None) or getattr(match.func, "view_class", None))


class BodySizeLimitMiddleware:
    """Refuse an oversize API body from its Content-Length before anything reads it.

    A chunked body (no Content-Length) is refused with 411: DRF would read it as empty.
    LimitedJSONParser caps the read again, in case a server passes a wrong length through.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _wants_problem(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return ProblemJSONResponse(problem_body(400, detail="Content-Length is not a number."))
            if not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                # DRF reads no body without a Content-Length; say so instead of parsing "nothing".
                return ProblemJSONResponse(
                    problem_body(411, detail="Send the body with a Content-Length header, not chunked.")
                )
            if length:
                limit = body_limit_for(request)
                if length > limit:
                    return ProblemJSONResponse(body_too_large(limit))
        return self.get_response(request)


class LimitedJSONParser(parsers.JSONParser):
    """JSON bodies, read up to the view's limit; larger bodies are a 413 problem.

    Duplicate object keys are refused: a signed payload must mean one thing to every reader.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parser_context = parser_context or {}
        view = parser_context.get("view")
        limit = body_limit_of(view)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise Problem(413, body_too_large(limit)["detail"], slug="body-too-large")
        try:
            return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
        except UnicodeDecodeError:
            raise exceptions.ParseError("The body is not UTF-8.") from None
        except _DuplicateKey as exc:
            raise exceptions.ParseError(f"The body repeats the key {exc.args[0]!r} in one object.") from None
        except ValueError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None
        except RecursionError:
            raise exceptions.ParseError("The body nests JSON too deeply.") from None


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


class CursorPagination(pagination.CursorPagination):
    """`?cursor=&limit=`; a view's `ordering` must be unique (e.g. `id`) so the order is total."""

    page_size_query_param = "limit"
    ordering = "id"

    def __init__(self) -> None:
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1 or size > self.max_page_size:
            raise validation_problem(
                [{"pointer": "", "code": "invalid_limit", "message": f"limit must be 1 to {self.max_page_size}."}],
                detail=f"The query parameter limit must be a whole number from 1 to {self.max_page_size}.",
            )
        return size

    def decode_cursor(self, request: Any) -> Any:
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise validation_problem(
                [{"pointer": "", "code": "invalid_cursor", "message": "cursor is not one this server issued."}],
                detail="The cursor is not valid. Use the next URL of a previous page as it is.",
            ) from None

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema, "next": {"type": "string", "format": "uri", "nullable": True}},
        }


class MemberRateThrottle(throttling.SimpleRateThrottle):
    """One request budget per member (all its users and tokens together); staff by user."""

    scope = "member"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = request.user
        if not user or not user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        ident = f"member:{user.member_id}" if user.member_id else f"user:{user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
