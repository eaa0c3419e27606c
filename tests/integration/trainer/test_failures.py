"""Jobs that cannot succeed fail fast, with a code and a reason a person can act on, before any
training where possible; and a job whose training breaks does not stop the worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skill_adapter.contracts import (
    DATASETS_BUCKET,
    AdapterRegistered,
    JobFailed,
    JobStarted,
    JobSucceeded,
)
from skill_adapter.modelstore import ModelInfo
from tests.integration.trainer.conftest import RunService
from tests.support.trainer import ScriptedTraining, Trainer, failing, start_job

pytestmark = pytest.mark.integration


async def test_bad_input_fails_before_training_with_the_reason(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    other_skill = await trainer.push_dataset(
        tmp_path / "other", f"other-{unique}", skill_name="another-skill"
    )
    tampered = await trainer.push_dataset(tmp_path / "tampered", f"tampered-{unique}")
    await trainer.objects.put(DATASETS_BUCKET.name, f"tampered-{unique}/train.jsonl", b'{"messages": []}\n')
    base = str(tiny_base.path)
    cases: dict[str, tuple[dict[str, Any], str, str]] = {
        "digest": ({"dataset_digest": "0" * 64}, "dataset_digest_mismatch", "the job asked for 000000000000"),
        "missing": (
            {"dataset_object": f"nothing-{unique}/manifest.json"},
            "dataset_not_found",
            "does not exist",
        ),
        "tampered": ({"dataset": tampered}, "dataset_digest_mismatch", "train.jsonl has sha256"),
        "skill-mismatch": ({"dataset": other_skill}, "dataset_skill_mismatch", "'another-skill'"),
        "base": ({"base_model": "nobody/no-such-model"}, "base_model_not_found", "nobody/no-such-model"),
        "base-path": ({"base_model": str(tmp_path / "no-model")}, "base_model_not_found", "no-model"),
        "skill": ({"skill_version": "0" * 64}, "skill_not_found", "has no accepted version"),
    }
    training = ScriptedTraining(adapter_template)
    async with run_service(training):
        for case, (changes, _, _) in cases.items():
            fields = dict(changes)
            chosen = fields.pop("dataset", dataset)
            version = fields.pop("skill_version", skill[1])
            model = fields.pop("base_model", base)
            await trainer.send(start_job(f"{case}-{unique}", chosen, (skill[0], version), model, **fields))
        outcomes = {case: await trainer.outcome(f"{case}-{unique}", timeout=30) for case in cases}
    for case, (_, code, words) in cases.items():
        failed = outcomes[case]
        assert isinstance(failed, JobFailed), (case, failed)
        assert failed.code == code, (case, failed)
        assert words in failed.reason, (case, failed.reason)
        assert failed.suggestions, case
        assert not trainer.of(f"{case}-{unique}", JobStarted), "no training started"
    assert training.calls == []


async def test_a_training_error_fails_the_job_and_the_worker_takes_the_next(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    crash, oom, fine = f"crash-{unique}", f"oom-{unique}", f"fine-{unique}"
    training = ScriptedTraining(
        adapter_template,
        steps=3,
        fail={crash: RuntimeError("tensor shapes do not match"), oom: failing("out_of_memory")},
    )
    async with run_service(training):
        for job_id in (crash, oom, fine):
            await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path)))
        crashed = await trainer.outcome(crash)
        oomed = await trainer.outcome(oom)
        finished = await trainer.outcome(fine)
    assert isinstance(crashed, JobFailed) and crashed.code == "training_error"
    assert "RuntimeError: tensor shapes do not match" in crashed.reason
    assert isinstance(oomed, JobFailed) and oomed.code == "out_of_memory"
    assert oomed.reason == "out_of_memory on purpose" and oomed.suggestions == ["do something else"]
    assert isinstance(finished, JobSucceeded)
    for job_id in (crash, oom):
        assert not trainer.of(job_id, AdapterRegistered)


async def test_an_adapter_the_serving_preflight_refuses_fails_the_job(
    run_service: RunService,
    trainer: Trainer,
    tiny_base: ModelInfo,
    adapter_template: Path,
    tmp_path: Path,
    unique: str,
) -> None:
    import json
    import shutil

    broken = tmp_path / "with-lm-head"
    shutil.copytree(adapter_template, broken)
    config = json.loads((broken / "adapter_config.json").read_text())
    config["modules_to_save"] = ["lm_head"]
    (broken / "adapter_config.json").write_text(json.dumps(config))
    skill = await trainer.push_skill(tmp_path)
    dataset = await trainer.push_dataset(tmp_path / "dataset", f"ds-{unique}")
    job_id = f"job-{unique}"
    async with run_service(ScriptedTraining(broken, steps=2)):
        await trainer.send(start_job(job_id, dataset, skill, str(tiny_base.path)))
        failed = await trainer.outcome(job_id)
    assert isinstance(failed, JobFailed) and failed.code == "adapter_not_servable"
    assert "modules_to_save" in failed.reason
    assert not trainer.of(job_id, AdapterRegistered)
