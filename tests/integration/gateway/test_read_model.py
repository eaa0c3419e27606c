"""The read model follows the parser's events, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from skill_adapter.contracts import SkillParsed
from skill_adapter.gateway.repository import SkillRepository
from skill_adapter.runtime.publisher import encode
from tests.integration.gateway.conftest import Gateway, StartGateway, error_of
from tests.support.helpers import eventually
from tests.unit.gateway.builders import minutes_ago, sha, skill_parsed, skill_rejected

pytestmark = pytest.mark.integration


@pytest.fixture
async def gw(start_gateway: StartGateway, database_url: str) -> AsyncIterator[Gateway]:
    async with start_gateway(database_url=database_url) as started:
        yield started


async def test_a_parsed_skill_is_listed_with_its_version_and_rubric(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("skills:read")
    name = f"json-{unique}"
    event = skill_parsed(name)
    await gw.publish(event)

    detail = (await gw.wait_for(f"/v1/skills/{name}", headers, "the skill in the read model")).json()
    assert detail["object"] == "skill"
    assert detail["name"] == name
    assert detail["description"] == event.description
    assert detail["latest_version"] == event.skill_version
    assert detail["version_count"] == 1
    assert detail["created_at"] == detail["updated_at"] == int(event.occurred_at.timestamp())
    [summary] = detail["versions"]
    assert summary == {
        "object": "skill.version",
        "name": name,
        "version": event.skill_version,
        "description": event.description,
        "criteria": 3,
        "created_at": int(event.occurred_at.timestamp()),
    }

    version = (
        await gw.client.get(f"/v1/skills/{name}/versions/{event.skill_version}", headers=headers)
    ).json()
    assert version["object"] == "skill.version"
    assert version["status"] == "ready"
    assert version["rubric"] == event.rubric.model_dump(mode="json")
    assert version["warnings"] == [w.model_dump(mode="json") for w in event.warnings]
    assert version["files"] == [f.model_dump(mode="json") for f in event.files]
    assert version["bundle_object"] == event.bundle_object
    assert version["object_name"] == event.object_name
    assert version["digest"] == event.digest
    assert version["criteria"] == 3

    listed = (await gw.client.get("/v1/skills", headers=headers, params={"limit": 100})).json()
    assert listed["object"] == "list"
    [entry] = [s for s in listed["data"] if s["name"] == name]
    assert entry == {k: v for k, v in detail.items() if k != "versions"}


async def test_the_latest_version_is_the_newest_even_when_events_arrive_late(
    gw: Gateway, unique: str
) -> None:
    headers = await gw.auth("skills:read")
    name = f"late-{unique}"
    newer = skill_parsed(name, sha(f"{unique}-v2"), description="Second version.")
    older = skill_parsed(name, sha(f"{unique}-v1"), description="First version.", occurred_at=minutes_ago(5))
    await gw.publish(newer)
    await gw.publish(older)  # a retried event overtaken by a newer one

    async def both() -> dict | None:
        response = await gw.client.get(f"/v1/skills/{name}", headers=headers)
        body = response.json() if response.status_code == 200 else None
        return body if body and body["version_count"] == 2 else None

    from tests.support.helpers import eventually

    detail = await eventually(both, what="both versions")
    assert detail["latest_version"] == newer.skill_version
    assert detail["description"] == "Second version."
    assert [v["version"] for v in detail["versions"]] == [newer.skill_version, older.skill_version]
    assert detail["created_at"] == int(older.occurred_at.timestamp())
    assert detail["updated_at"] == int(newer.occurred_at.timestamp())


async def test_a_redelivered_event_changes_nothing(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("skills:read")
    name = f"again-{unique}"
    event = skill_parsed(name)
    await gw.publish(event)
    await gw.wait_for(f"/v1/skills/{name}", headers, "the first delivery")
    # The same event again under another Nats-Msg-Id, so the stream does not drop it.
    await gw.js.publish(
        SkillParsed.SUBJECT, encode(event), headers={"Nats-Msg-Id": f"{event.event_id}-again"}
    )
    barrier = skill_parsed(f"barrier-{unique}")
    await gw.publish(barrier)
    await gw.wait_for(f"/v1/skills/{barrier.skill_name}", headers, "the barrier behind the duplicate")
    detail = (await gw.client.get(f"/v1/skills/{name}", headers=headers)).json()
    assert detail["version_count"] == 1

    async def record_again() -> bool:
        async with gw.state.runtime.sessions() as session:
            return await SkillRepository(session).record_parsed(event)

    assert gw.in_app(record_again) is False


async def test_skills_are_paged_by_name(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("skills:read")
    names = [f"p{unique}-{i}" for i in range(5)]
    for name in reversed(names):
        await gw.publish(skill_parsed(name))
    for name in names:
        await gw.wait_for(f"/v1/skills/{name}", headers, f"{name} in the read model")

    seen: list[str] = []
    after: str | None = None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = (await gw.client.get("/v1/skills", headers=headers, params=params)).json()
        assert page["object"] == "list"
        assert len(page["data"]) <= 2
        page_names = [s["name"] for s in page["data"]]
        if page_names:
            assert page["first_id"] == page_names[0] and page["last_id"] == page_names[-1]
        seen += page_names
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == sorted(set(seen))
    start = seen.index(names[0])
    assert seen[start : start + 5] == names

    middle = (
        await gw.client.get("/v1/skills", headers=headers, params={"limit": 2, "after": names[1]})
    ).json()
    assert [s["name"] for s in middle["data"]] == names[2:4]
    assert middle["has_more"] is True


@pytest.mark.parametrize("limit", ["0", "101", "many"])
async def test_a_bad_limit_is_400_naming_it(gw: Gateway, limit: str) -> None:
    response = await gw.client.get(
        "/v1/skills", headers=await gw.auth("skills:read"), params={"limit": limit}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "limit"


async def test_rejections_are_listed_newest_first_with_their_errors(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("skills:read")
    skill = f"bad-{unique}"
    first = skill_rejected(f"{skill}/SKILL.md", skill_name=skill, at=minutes_ago(2))
    second = skill_rejected(f"{skill}.zip", skill_name=skill, at=minutes_ago(1))
    other = skill_rejected(f"other-{unique}.zip")
    for event in (first, second, other):
        await gw.publish(event)

    from tests.support.helpers import eventually

    async def recorded() -> list | None:
        page = (await gw.client.get("/v1/skill_rejections", headers=headers, params={"limit": 100})).json()
        ids = [r["id"] for r in page["data"]]
        return page["data"] if {first.event_id, second.event_id, other.event_id} <= set(ids) else None

    data = await eventually(recorded, what="the three rejections")
    mine = [r for r in data if r["id"] in {first.event_id, second.event_id, other.event_id}]
    assert [r["id"] for r in mine] == [other.event_id, second.event_id, first.event_id]
    entry = mine[2]
    assert entry["object"] == "skill.rejection"
    assert entry["object_name"] == first.object_name
    assert entry["skill_name"] == skill
    assert entry["reason"] == first.reason
    assert entry["errors"] == [e.model_dump(mode="json") for e in first.errors]
    assert entry["created_at"] == int(first.occurred_at.timestamp())

    only = (await gw.client.get("/v1/skill_rejections", headers=headers, params={"skill": skill})).json()
    assert [r["id"] for r in only["data"]] == [second.event_id, first.event_id]
    paged = (
        await gw.client.get(
            "/v1/skill_rejections",
            headers=headers,
            params={"skill": skill, "limit": 1, "after": second.event_id},
        )
    ).json()
    assert [r["id"] for r in paged["data"]] == [first.event_id]
    assert paged["has_more"] is False

    unknown = await gw.client.get("/v1/skill_rejections", headers=headers, params={"after": "nope"})
    assert unknown.status_code == 400
    assert error_of(unknown)["param"] == "after"


async def test_unknown_skill_and_version_are_404(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("skills:read")
    missing = await gw.client.get(f"/v1/skills/none-{unique}", headers=headers)
    assert missing.status_code == 404
    error = error_of(missing)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "skill_not_found",
        "name",
    )

    event = skill_parsed(f"known-{unique}")
    await gw.publish(event)
    await gw.wait_for(f"/v1/skills/{event.skill_name}", headers, "the known skill")
    no_version = await gw.client.get(
        f"/v1/skills/{event.skill_name}/versions/{sha('other')}", headers=headers
    )
    assert no_version.status_code == 404
    assert error_of(no_version)["code"] == "version_not_found"
    neither = await gw.client.get(f"/v1/skills/none-{unique}/versions/{sha('other')}", headers=headers)
    assert error_of(neither)["code"] == "skill_not_found"


async def test_putting_an_earlier_version_back_makes_it_the_latest_again(gw: Gateway, unique: str) -> None:
    headers = await gw.auth("skills:read")
    name = f"revert-{unique}"
    first = skill_parsed(name, sha(f"{unique}-a"), description="A.", occurred_at=minutes_ago(3))
    second = skill_parsed(name, sha(f"{unique}-b"), description="B.", occurred_at=minutes_ago(2))
    again = skill_parsed(name, sha(f"{unique}-a"), description="A.", occurred_at=minutes_ago(1))
    for event in (first, second, again):
        await gw.publish(event)

    async def reverted() -> dict | None:
        response = await gw.client.get(f"/v1/skills/{name}", headers=headers)
        body = response.json() if response.status_code == 200 else None
        # wait for all three events: the first one alone also leaves A as the latest
        settled = (
            body and body["version_count"] == 2 and body["updated_at"] == int(again.occurred_at.timestamp())
        )
        return body if settled else None

    detail = await eventually(reverted, what="all three events in the read model")
    assert detail["latest_version"] == first.skill_version
    assert detail["description"] == "A."


async def test_a_skill_may_be_called_rejections(gw: Gateway) -> None:
    headers = await gw.auth("skills:read")
    event = skill_parsed("rejections")
    await gw.publish(event)
    detail = (await gw.wait_for("/v1/skills/rejections", headers, "the skill called rejections")).json()
    assert detail["object"] == "skill" and detail["name"] == "rejections"
