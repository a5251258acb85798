"""The depth bound on JSON documents (`core.bodies.json_depth_check`), walked a level at
a time since issue 24 part 3: the same documents pass and fail as before."""

from __future__ import annotations

from typing import Any

import pytest

from core.bodies import MAX_JSON_DEPTH, DocumentError, json_depth_check


def _nested(depth: int, *, kind: str = "dict") -> Any:
    node: Any = "fond"
    for level in range(depth):
        node = {"n": node} if (kind == "dict" or level % 2) else [node]
    return node


@pytest.mark.parametrize("kind", ["dict", "mixed"])
def test_the_deepest_allowed_passes_and_one_more_is_refused(kind: str) -> None:
    json_depth_check(_nested(MAX_JSON_DEPTH, kind=kind))
    with pytest.raises(DocumentError, match=f"more than {MAX_JSON_DEPTH}"):
        json_depth_check(_nested(MAX_JSON_DEPTH + 1, kind=kind))


def test_a_deep_branch_among_wide_shallow_ones_is_found() -> None:
    document = {"contents": [{"id": str(i), "tags": ["a", "b"]} for i in range(2000)]}
    json_depth_check(document)
    document["contents"][1234]["deep"] = _nested(MAX_JSON_DEPTH)
    with pytest.raises(DocumentError):
        json_depth_check(document)


@pytest.mark.parametrize("value", [5, "texte", None, True, 1.5, [], {}])
def test_a_lone_value_or_an_empty_container_passes(value: Any) -> None:
    json_depth_check(value)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["5", "null", "true", '"texte"', "[]"])
def test_an_organisation_s_write_given_a_lone_value_is_told_so(body: str) -> None:
    """A lone JSON value as the body of an organisation's write was a 500 (the depth
    check iterated it); it is a 422 that names the body."""
    from django.test import Client

    from community_catalog.services import organization_create

    _organization, key = organization_create(name="Chorale du quartier")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    for response in (
        client.post("/api/v1/organization/services", body, content_type="application/json"),
        client.generic("POST", "/api/v1/organization/services", b"", "application/json"),
    ):
        assert response.status_code == 422, response.content[:300]
        assert response.json()["error"]["fields"][0]["field"] == "body"
