"""``POST /v1/graders/run``: OpenAI-style grader dry-runs against a rubric."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skill_adapter.contracts import ContainsCheck, RegexCheck, Rubric
from tests.integration.gateway.conftest import Gateway, error_of
from tests.unit.gateway.builders import criterion, json_rubric, sha, skill_parsed

pytestmark = pytest.mark.integration

GOOD = '{"answer": "Canberra", "confidence": "high"}'
BAD = "The capital of Australia is Canberra."


def rubric_json(rubric: Rubric) -> dict[str, Any]:
    return rubric.model_dump(mode="json")


async def run(gateway: Gateway, body: Any, headers: dict[str, str]) -> Any:
    return await gateway.client.post("/v1/graders/run", json=body, headers=headers)


async def test_inline_rubric_grades_each_sample_with_evidence(gateway: Gateway) -> None:
    headers = await gateway.auth("graders:run")
    rubric = json_rubric("demo-skill")
    response = await run(
        gateway, {"rubric": rubric_json(rubric), "samples": [{"text": GOOD}, {"text": BAD}]}, headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "grader.run"
    assert body["skill"] is None and body["version"] is None
    good, bad = body["results"]
    assert good["passed"] is True and good["score"] == 1.0
    assert bad["passed"] is False and bad["score"] == 0.5  # valid JSON fails, length passes
    by_id = {r["criterion_id"]: r for r in bad["results"]}
    assert by_id["valid-json"]["passed"] is False
    assert by_id["valid-json"]["evidence"]
    assert by_id["short"]["passed"] is True
    judge = by_id["polite"]
    assert judge["passed"] is None and judge["score"] is None and judge["deterministic"] is False
    assert "not evaluated" in judge["evidence"]
    assert body["summary"] == {"samples": 2, "passed": 1, "pass_rate": 0.5, "mean_score": 0.75}


async def test_criteria_of_an_eval_apply_only_to_its_samples(gateway: Gateway) -> None:
    headers = await gateway.auth("graders:run")
    rubric = Rubric(
        skill_name="demo-skill",
        skill_version=sha("demo"),
        criteria=[
            criterion("json", RegexCheck(pattern=r"^\{"), "Reply with JSON."),
            criterion("canberra", ContainsCheck(text="Canberra"), "Names Canberra.", eval_id="capital"),
        ],
        coverage=json_rubric().coverage,
    )
    samples = [{"text": "{}", "eval_id": "capital"}, {"text": "{}"}]
    body = (await run(gateway, {"rubric": rubric_json(rubric), "samples": samples}, headers)).json()
    for_eval, plain = body["results"]
    assert [r["criterion_id"] for r in for_eval["results"]] == ["json", "canberra"]
    assert for_eval["passed"] is False and for_eval["eval_id"] == "capital"
    assert [r["criterion_id"] for r in plain["results"]] == ["json"]
    assert plain["passed"] is True


async def test_grading_by_skill_uses_its_latest_or_named_version(gateway: Gateway, unique: str) -> None:
    read = await gateway.auth("skills:read")
    headers = await gateway.auth("graders:run")
    name = f"graded-{unique}"
    event = skill_parsed(name)
    await gateway.publish(event)
    await gateway.wait_for(f"/v1/skills/{name}", read, "the skill to grade with")

    latest = await run(gateway, {"skill": name, "samples": [{"text": GOOD}]}, headers)
    assert latest.status_code == 200, latest.text
    assert latest.json()["skill"] == name
    assert latest.json()["version"] == event.skill_version
    assert latest.json()["results"][0]["skill_version"] == event.skill_version
    pinned = await run(
        gateway, {"skill": name, "version": event.skill_version, "samples": [{"text": BAD}]}, headers
    )
    assert pinned.json()["summary"]["passed"] == 0

    other = await run(gateway, {"skill": name, "version": sha("nope"), "samples": [{"text": GOOD}]}, headers)
    assert other.status_code == 404
    assert error_of(other)["code"] == "version_not_found"
    unknown = await run(gateway, {"skill": f"none-{unique}", "samples": [{"text": GOOD}]}, headers)
    assert unknown.status_code == 404
    error = error_of(unknown)
    assert (error["code"], error["param"]) == ("skill_not_found", "skill")


async def test_a_judge_only_rubric_scores_null(gateway: Gateway) -> None:
    headers = await gateway.auth("graders:run")
    rubric = json_rubric()
    judge_only = rubric.model_copy(update={"criteria": [c for c in rubric.criteria if not c.deterministic]})
    body = (
        await run(gateway, {"rubric": rubric_json(judge_only), "samples": [{"text": "hi"}]}, headers)
    ).json()
    assert body["results"][0]["score"] is None
    assert body["summary"]["mean_score"] is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"samples": [{"text": "x"}]}, None),  # neither skill nor rubric
        ({"skill": "a", "rubric": rubric_json(json_rubric()), "samples": [{"text": "x"}]}, None),
        ({"skill": "a", "samples": []}, "samples"),
        ({"skill": "a", "samples": [{"text": "x"}] * 101}, "samples"),
        ({"skill": "a", "samples": [{"text": "x" * 100_001}]}, "samples[0].text"),
        ({"skill": "a", "samples": "x"}, "samples"),
        ({"skill": "a", "samples": [{"text": 3}]}, "samples[0].text"),
        ({"skill": "a", "version": "latest", "samples": [{"text": "x"}]}, "version"),
        ({"skill": "a", "samples": [{"text": "x"}], "temperature": 1}, "temperature"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(gateway: Gateway, body: Any, param: str | None) -> None:
    response = await run(gateway, body, await gateway.auth("graders:run"))
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_malformed_json_is_400(gateway: Gateway) -> None:
    headers = {**await gateway.auth("graders:run"), "Content-Type": "application/json"}
    response = await gateway.client.post(
        "/v1/graders/run", content=b'{"skill": "a", "samples": [', headers=headers
    )
    assert response.status_code == 400
    assert error_of(response)["type"] == "invalid_request_error"


async def test_an_inline_check_that_cannot_run_is_400(gateway: Gateway) -> None:
    rubric = json_rubric().model_copy(
        update={"criteria": [criterion("broken", RegexCheck(pattern="(unclosed"), "Broken regex.")]}
    )
    response = await run(
        gateway, {"rubric": rubric_json(rubric), "samples": [{"text": "x"}]}, await gateway.auth("admin")
    )
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"]) == ("invalid_rubric", "rubric.criteria[0].check")


async def test_grading_needs_the_graders_scope(gateway: Gateway) -> None:
    body = {"rubric": rubric_json(json_rubric()), "samples": [{"text": GOOD}]}
    response = await run(gateway, body, await gateway.auth("skills:read", "skills:write"))
    assert response.status_code == 403
    assert json.loads(response.text)["error"]["type"] == "permission_error"
