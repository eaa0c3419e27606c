"""The broken-skill corpus through the API: each case refused with its codes, nothing stored,
and the gateway still accepts a good skill afterwards."""

from __future__ import annotations

import pytest

from skill_adapter.contracts import SKILLS_BUCKET
from skill_adapter.runtime.objects import Objects
from tests.integration.gateway.conftest import Gateway, error_of
from tests.support.corpus import cases

pytestmark = pytest.mark.integration

GOOD = b"---\nname: after-corpus\ndescription: Replies in JSON. Use when JSON is wanted.\n---\nAlways respond with valid JSON.\n"


async def test_every_broken_case_is_refused_with_its_codes(gateway: Gateway, js) -> None:
    headers = await gateway.auth("skills:write")
    before = {o.name for o in await Objects(js).list(SKILLS_BUCKET.name)}
    wrong: list[str] = []
    for case in cases("broken"):
        data, object_name = case.upload()
        response = await gateway.client.post(
            "/v1/skills",
            files={"file": (object_name, data, "application/octet-stream")},
            data={"mode": case.mode},
            headers=headers,
        )
        if response.status_code == 413:  # bigger than the upload cap: refused before reading
            continue
        if response.status_code != 422:
            wrong.append(f"{case.name}: HTTP {response.status_code}")
            continue
        codes = {d["code"] for d in error_of(response)["errors"]}
        if not set(case.codes) <= codes:
            wrong.append(f"{case.name}: expected {case.codes}, got {sorted(codes)}")
    assert wrong == []
    after = {o.name for o in await Objects(js).list(SKILLS_BUCKET.name)}
    assert after == before, "a refused upload stores nothing"

    response = await gateway.client.post(
        "/v1/skills", files={"file": ("after-corpus/SKILL.md", GOOD, "text/markdown")}, headers=headers
    )
    assert response.status_code in (200, 202), response.text
