"""A sweep of odd bodies and query strings over every writing endpoint and the list endpoints:
each is answered with a 4xx problem (or a success where the input happens to be fine), never 500."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

ODD = [None, 0, -1, 1e308, "x" * 5000, [], {}, [[]], {"a": {"b": []}}, True, "\u0000", "'; drop table x;--"]
WRITES = [
    ("post", "/api/v1/batches"),
    ("post", "/api/v1/match"),
    ("put", "/api/v1/batches/1/vote"),
    ("put", "/api/v1/fingerprints/1/opinion"),
    ("post", "/api/v1/members/me/keys"),
    ("post", "/api/v1/members/me/tokens"),
    ("post", "/api/v1/members/me/users"),
    ("patch", "/api/v1/members/me/users/bob"),
    ("post", "/api/v1/batches/1/withdraw"),
    ("post", "/api/v1/members/me/endpoints"),
]
READS = [
    "/api/v1/releases?after=1e3",
    "/api/v1/releases?limit=%00",
    "/api/v1/audit/entries?start=-1&end=x",
    "/api/v1/audit/proof/inclusion?index=99&size=1",
    "/api/v1/audit/proof/consistency?old=5&new=2",
    "/api/v1/members/me/keys/" + "k" * 3000,
    "/api/v1/batches?status[]=x",
    "/api/v1/batches/1/items?cursor=%ff",
    "/api/v1/labels?dimension=%00",
    "/api/v1/incidents?open=maybe",
    "/api/v1/fingerprints/0",
    "/api/v1/snapshot",
    "/api/v1/members?cursor=" + "A" * 500,
]


def bodies() -> list[object]:
    return [
        *ODD,
        *({"payload": odd, "signature": odd} for odd in ODD),
        *({"queries": [odd]} for odd in ODD),
        *({"decision": odd, "reason": odd, "opinion": odd} for odd in ODD),
    ]


@pytest.mark.parametrize("who", ["alice", "rita", "stan", "audrey"])
def test_no_endpoint_answers_500_to_odd_input(cast, api, who: str) -> None:
    client = api(getattr(cast, who))
    failures = []
    for method, path in WRITES:
        for body in bodies():
            response = getattr(client, method)(path, json.dumps(body), content_type="application/json")
            if response.status_code >= 500 or (response.status_code >= 400 and not response["Content-Type"].startswith("application/problem+json")):
                failures.append((method, path, body, response.status_code))
    for path in READS:
        response = client.get(path)
        if response.status_code >= 500:
            failures.append(("get", path, None, response.status_code))
    assert not failures, failures[:10]
