"""The problem types the API answers with (RFC 9457 `type` URIs, `/problems/<slug>`), each with
what it means and what to do; `GET /problems/<slug>` serves them, so a `type` can be followed."""
from __future__ import annotations

from typing import NamedTuple


class ProblemType(NamedTuple):
    status: int
    title: str
    meaning: str
    remedy: str


PROBLEM_TYPES: dict[str, ProblemType] = {
    "validation-error": ProblemType(
        422, "Invalid request",
        "A value in the request is invalid. `errors` lists each one as {pointer, code, message}, the pointer a JSON Pointer into the request (up to 1,000 rows).",
        "Fix the values the pointers name and send the whole request again; nothing of it was stored.",
    ),
    "invalid-signature": ProblemType(
        422, "Invalid signature",
        "The signed envelope did not verify: tampered payload, unknown or revoked key, wrong `alg` or `typ`, or missing header fields.",
        "Sign the JCS of the exact payload you send with an active key of your member (GET /api/v1/members/me/keys), alg EdDSA.",
    ),
    "conflict": ProblemType(
        409, "Conflict with the current state",
        "The request does not fit the object's current state: a batch no longer voting, a ref already used for another payload, a second open incident for a label.",
        "Read the object again (its status is in `detail`) and decide anew; a new batch needs a new ref.",
    ),
    "not-allowed": ProblemType(
        403, "Not allowed",
        "Your role or member may not do this: voting on your own member's batch, another member's object, a staff-only change.",
        "Ask your member's admin for the role the action needs, or act on your own member's objects.",
    ),
    "not-found": ProblemType(
        404, "Not Found",
        "There is no such object, or it is not yours to see.",
        "Check the id; lists (cursor-paginated) show what you may see.",
    ),
    "refused": ProblemType(
        400, "Request refused",
        "The server refused the change for the reason in `detail`.",
        "Read `detail`; nothing was changed.",
    ),
    "malformed-body": ProblemType(
        400, "Malformed request body",
        "The body is not the JSON it should be: not UTF-8, duplicate keys, nesting too deep, or not parseable.",
        "Send one JSON document with Content-Type application/json.",
    ),
    "body-too-large": ProblemType(
        413, "Content Too Large",
        "The body is over this endpoint's limit, which is checked before the body is read.",
        "Split the work into smaller requests (e.g. batches of at most 100,000 items).",
    ),
    "rate-limited": ProblemType(
        429, "Too Many Requests",
        "Your member sent more requests than its rate allows.",
        "Wait the seconds in the Retry-After header, then retry.",
    ),
    "unauthenticated": ProblemType(
        401, "Unauthorized",
        "No valid token came with the request: none, unknown, expired or revoked.",
        "Send 'Authorization: Bearer <token>'; tokens come from your member's admin.",
    ),
    "no-member": ProblemType(
        404, "Not Found",
        "The caller belongs to no member, so there is no 'me' to show.",
        "Use a token of a member's user.",
    ),
    "no-snapshot": ProblemType(
        404, "Not Found",
        "No snapshot has been built yet; one is built every few minutes after the first release.",
        "Sync with GET /api/v1/releases?after=0 until the first snapshot exists.",
    ),
}
