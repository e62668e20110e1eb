"""Bombs and deep input to the schema endpoints: YAML aliases are refused, any body that
cannot be parsed is a 400 naming why (never a 500), and the body is bounded."""

from __future__ import annotations

import time

import httpx
import pytest

YAML = {"Content-Type": "application/yaml"}

LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]"
       for i in range(8)]) + "\n"


@pytest.mark.parametrize("path", ["/v1/schema/diff", "/v1/schema/apply"])
async def test_yaml_aliases_are_refused_at_once(app_client: httpx.AsyncClient,
                                                path: str) -> None:
    started = time.monotonic()
    answer = await app_client.post(path, content=LAUGHS, headers=YAML)
    assert answer.status_code == 400, answer.text[:500]
    assert "anchor" in answer.json()["detail"] or "alias" in answer.json()["detail"]
    assert time.monotonic() - started < 2
    plain = await app_client.post(path, content="x: *nowhere\n", headers=YAML)
    assert plain.status_code == 400 and "alias" in plain.json()["detail"]


@pytest.mark.parametrize("body,ctype", [
    ("[" * 100_000 + "]" * 100_000, "application/json"),
    ('{"a":' * 5000 + "1" + "}" * 5000, "application/json"),
    ("- " * 5000 + "x\n", "application/yaml"),
    ("[" * 100_000, "application/yaml"),
    ("{a: [b, {c: \n", "application/yaml"),
])
async def test_a_body_that_cannot_be_parsed_is_a_400_naming_why(
        app_client: httpx.AsyncClient, body: str, ctype: str) -> None:
    for path in ("/v1/schema/diff", "/v1/schema/apply"):
        answer = await app_client.post(path, content=body, headers={"Content-Type": ctype})
        assert answer.status_code == 400, answer.text[:500]
        problem = answer.json()
        assert problem["code"] == "DBP-H101" and problem["status"] == 400
        assert "neither JSON nor YAML" in problem["detail"]


async def test_the_schema_body_is_bounded(app_client: httpx.AsyncClient) -> None:
    big = b'{"collections": [' + b'"x",' * (3 << 20) + b'"x"]}'
    answer = await app_client.post("/v1/schema/diff", content=big,
                                   headers={"Content-Type": "application/json"})
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["limit"] == 8 << 20
    upload = await app_client.post("/v1/schema/diff", files={"file": big})
    assert upload.status_code == 413, upload.text[:300]


@pytest.mark.parametrize("path", ["/v1/schema/diff",
                                  "/v1/databases/default/backups/upload"])
async def test_multipart_without_a_boundary_is_a_400(app_client: httpx.AsyncClient,
                                                     path: str) -> None:
    answer = await app_client.post(path, content=b"--x\r\n\r\nabc\r\n--x--\r\n",
                                   headers={"Content-Type": "multipart/form-data"})
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["status"] == 400 and "boundary" in problem["detail"].lower()
    assert problem["code"] in ("DBP-V101", "DBP-H101"), problem
