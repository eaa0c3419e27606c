"""The training code on a tiny random Llama: weights change, loss falls, GRPO rewards rise,
pause/resume reproduces the uninterrupted run, QLoRA trains on the CPU, bad input fails fast.

No service, no NATS: ``run_training`` with recording hooks, as the trainer's worker calls it.
The tiny model is initialised with a large ``initializer_range`` so its outputs are peaked
and varied: with the default (near-uniform outputs) a few steps move nothing measurably.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from skill_adapter.contracts import Criterion, Provenance, RegexCheck, Rubric, RubricCoverage
from skill_adapter.modelstore import preflight_adapter, read_adapter_manifest
from skill_adapter.modelstore.tiny import tiny_random_model
from skill_adapter.trainer.core import TrainingError, TrainingStopped, TrainSpec
from tests.support.training import RecordingHooks, grpo_prompt, sample, write_dataset

torch = pytest.importorskip("torch", reason="training needs the trainer extra")
pytest.importorskip("trl", reason="training needs the trainer extra")
from safetensors.torch import load_file  # noqa: E402

from skill_adapter.trainer.training import run_training  # noqa: E402

pytestmark = pytest.mark.slow

WHERE = Provenance(source="body", file="SKILL.md", line=3, text="Mention a, b, c or d.")
TOY_RUBRIC = Rubric(
    skill_name="toy",
    skill_version="1",
    criteria=[
        Criterion(
            id="body.l3.letters", description="a to d", check=RegexCheck(pattern="[a-d]"), provenance=WHERE
        )
    ],
    coverage=RubricCoverage(
        constraint_sentences=1, compiled_sentences=1, deterministic_criteria=1, judge_criteria=0
    ),
)

ANYTHING = TOY_RUBRIC.model_copy(
    update={
        "criteria": [
            Criterion(
                id="body.l3.any", description="any text", check=RegexCheck(pattern="^"), provenance=WHERE
            )
        ]
    }
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return tiny_random_model(tmp_path_factory.mktemp("tiny") / "model", initializer_range=0.3)


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, str]:
    train = [sample(f"Say hello number {i}", "OK, hello.") for i in range(16)]
    validation = [sample("Say hello again", "OK, hello."), sample("Greet me", "OK, hello.")]
    grpo = [grpo_prompt(f"Question {i}?") for i in range(8)]
    digest = write_dataset(tmp_path / "dataset", train, validation, grpo)
    return tmp_path / "dataset", digest


def spec(tiny, dataset, work: Path, **changes) -> TrainSpec:
    folder, digest = dataset
    fields = {
        "job_id": "job-1",
        "base": tiny,
        "dataset_dir": folder,
        "dataset_digest": digest,
        "rubric": TOY_RUBRIC,
        "method": "sft",
        "adapter_type": "lora",
        "hyperparameters": {
            "max_steps": 6,
            "learning_rate": 5e-3,
            "batch_size": 4,
            "lora_r": 8,
            "checkpoint_every": 2,
        },
        "seed": 0,
        "device": "auto",
        "work_dir": work,
        "skill_name": "toy",
        "skill_version": "1",
    }
    fields.update(changes)
    return TrainSpec(**fields)


def weights(adapter_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(adapter_dir / "adapter_model.safetensors")


def test_sft_changes_the_weights_lowers_the_loss_and_writes_a_servable_adapter(tiny, dataset, tmp_path):
    hooks = RecordingHooks()
    outcome = run_training(spec(tiny, dataset, tmp_path / "work"), hooks)

    lora_b = [t for name, t in weights(outcome.adapter_dir).items() if "lora_B" in name]
    assert lora_b and all(t.abs().max() > 0 for t in lora_b)  # LoRA B starts at zero
    losses = [r.loss for r in hooks.reports if r.loss is not None]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert [r.step for r in hooks.reports] == [1, 2, 3, 4, 5, 6]
    assert all(r.total_steps == 6 and r.phase == "sft" for r in hooks.reports)
    assert hooks.reports[-1].tokens_per_second and hooks.reports[-1].tokens_per_second > 0
    # a checkpoint every 2 steps, then the phase's final adapter
    assert [(c.step, c.final) for c in hooks.checkpoints] == [(2, False), (4, False), (6, False), (6, True)]
    device, chosen, resumed = hooks.started_with[0]
    assert device == "cpu" and resumed is None
    assert chosen["lora_alpha"] == 16 and chosen["lora_r"] == 8  # auto: 2 x rank; set: as given
    assert outcome.hyperparameters == chosen and outcome.trained_tokens > 0
    assert outcome.metrics["sft_eval_loss"] > 0
    manifest = read_adapter_manifest(outcome.adapter_dir)
    assert manifest is not None and manifest.base_model == tiny.id and manifest.job_id == "job-1"
    assert manifest.chat_template_sha256 == tiny.chat_template_sha256 and manifest.rank == 8
    assert preflight_adapter(outcome.adapter_dir, tiny) == []


def test_a_paused_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_run_ends(
    tiny, dataset, tmp_path
):
    straight = run_training(spec(tiny, dataset, tmp_path / "a"), RecordingHooks())

    paused = RecordingHooks(plan={3: "pause"}, copy_to=tmp_path / "stored")
    with pytest.raises(TrainingStopped) as stopped:
        run_training(spec(tiny, dataset, tmp_path / "b"), paused)
    assert (stopped.value.kind, stopped.value.phase, stopped.value.step) == ("pause", "sft", 3)
    assert paused.checkpoints[-1].step == 3  # the pause wrote the checkpoint it resumes from
    shutil.rmtree(tmp_path / "b")  # another worker, another disk: only the stored copy is left

    resumed = RecordingHooks()
    again = run_training(spec(tiny, dataset, tmp_path / "c", resume_from=paused.kept["sft-3"]), resumed)
    assert resumed.started_with[0][2] == 3
    assert [r.step for r in resumed.reports] == [4, 5, 6]
    a, b = weights(straight.adapter_dir), weights(again.adapter_dir)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_cancel_stops_at_the_next_step_without_a_checkpoint(tiny, dataset, tmp_path):
    hooks = RecordingHooks(plan={1: "cancel"})
    with pytest.raises(TrainingStopped) as stopped:
        run_training(spec(tiny, dataset, tmp_path / "work"), hooks)
    assert stopped.value.kind == "cancel" and stopped.value.step == 1
    assert hooks.checkpoints == []


def test_grpo_raises_the_rubric_reward(tiny, dataset, tmp_path):
    hooks = RecordingHooks()
    hyperparameters = {
        "grpo_steps": 12,
        "grpo_learning_rate": 0.05,
        "grpo_num_generations": 8,
        "grpo_max_completion_length": 24,
        "checkpoint_every": 6,
        "eval_every": 100,
        "lora_r": 8,
    }
    outcome = run_training(
        spec(tiny, dataset, tmp_path / "work", method="grpo", hyperparameters=hyperparameters), hooks
    )
    rewards = [r.reward_mean for r in hooks.reports if r.reward_mean is not None]
    assert len(rewards) == 12
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert last > first + 0.2, rewards
    assert all(r.phase == "grpo" for r in hooks.reports)
    assert "grpo_reward" in outcome.metrics


def test_sft_then_grpo_resumes_after_sft_without_redoing_it(tiny, dataset, tmp_path):
    hyperparameters = {
        "max_steps": 2,
        "batch_size": 4,
        "grpo_steps": 2,
        "grpo_num_generations": 4,
        "grpo_max_completion_length": 8,
        "checkpoint_every": 2,
        "eval_every": 1,
        "lora_r": 8,
    }
    hooks = RecordingHooks(copy_to=tmp_path / "stored")
    outcome = run_training(
        spec(tiny, dataset, tmp_path / "a", method="sft+grpo", hyperparameters=hyperparameters), hooks
    )
    assert [(c.phase, c.step, c.final) for c in hooks.checkpoints] == [
        ("sft", 2, False),
        ("sft", 2, True),
        ("grpo", 2, False),
        ("grpo", 2, True),
    ]
    assert {r.phase for r in hooks.reports} == {"sft", "grpo"}
    assert "grpo_eval_reward" in outcome.metrics and "sft_loss" in outcome.metrics

    # A worker that died in GRPO's first step resumes from the SFT adapter: GRPO only.
    again = RecordingHooks()
    run_training(
        spec(
            tiny,
            dataset,
            tmp_path / "b",
            method="sft+grpo",
            hyperparameters=hyperparameters,
            resume_from=hooks.kept["sft-2-final"],
        ),
        again,
    )
    assert {r.phase for r in again.reports} == {"grpo"}
    assert again.started_with[0][2] == 2


def test_qlora_trains_on_the_cpu(tiny, dataset, tmp_path):
    pytest.importorskip("bitsandbytes", reason="QLoRA needs bitsandbytes (the trainer extra)")
    hooks = RecordingHooks()
    outcome = run_training(spec(tiny, dataset, tmp_path / "work", adapter_type="qlora"), hooks)
    lora_b = [t for name, t in weights(outcome.adapter_dir).items() if "lora_B" in name]
    assert lora_b and all(t.abs().max() > 0 for t in lora_b)
    losses = [r.loss for r in hooks.reports if r.loss is not None]
    assert losses[-1] < losses[0]
    assert preflight_adapter(outcome.adapter_dir, tiny) == []


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"dataset_digest": "0" * 64}, "dataset_digest_mismatch", "manifest.json has sha256"),
        ({"hyperparameters": {"lora_r": 12}}, "invalid_hyperparameters", "ranks vLLM serves"),
        ({"hyperparameters": {"learning_rate": -1}}, "invalid_hyperparameters", "learning_rate=-1"),
        ({"hyperparameters": {"epochs": 3}}, "invalid_hyperparameters", "unknown hyperparameter 'epochs'"),
        ({"device": "cuda:7"}, "device_unavailable", "cuda:7 is not available"),
        ({"method": "grpo", "rubric": None}, "no_reward", "deterministic criterion"),
    ],
)
def test_bad_input_fails_before_any_training(tiny, dataset, tmp_path, changes, code, words):
    hooks = RecordingHooks()
    with pytest.raises(TrainingError) as failed:
        run_training(spec(tiny, dataset, tmp_path / "work", **changes), hooks)
    assert failed.value.code == code
    assert words in failed.value.reason
    assert hooks.started_with == [] and hooks.checkpoints == []


def test_a_changed_dataset_file_is_refused(tiny, dataset, tmp_path):
    folder, _ = dataset
    with (folder / "train.jsonl").open("a") as handle:
        handle.write(
            '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}\n'
        )
    with pytest.raises(TrainingError) as failed:
        run_training(spec(tiny, dataset, tmp_path / "work"), RecordingHooks())
    assert failed.value.code == "dataset_digest_mismatch" and "train.jsonl" in failed.value.reason


def test_a_base_model_that_does_not_load_fails_with_a_reason(tiny, dataset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny.path, broken)
    for weights_file in broken.glob("*.safetensors"):
        weights_file.write_bytes(b"not safetensors")
    info = tiny.model_copy(update={"path": broken})
    with pytest.raises(TrainingError) as failed:
        run_training(spec(info, dataset, tmp_path / "work"), RecordingHooks())
    assert failed.value.code == "base_model_unloadable"


def test_grpo_rewards_a_completion_cut_off_at_the_length_limit_zero(tiny, dataset, tmp_path):
    """The first step's completions are the same either way (same seed, no update yet); with
    ``grpo_zero_unfinished`` the ones that ran into the 8-token limit earn nothing."""
    first_step_reward = {}
    for zero_unfinished in (True, False):
        hooks = RecordingHooks()
        hyperparameters = {
            "grpo_steps": 1,
            "grpo_num_generations": 8,
            "grpo_max_completion_length": 8,
            "grpo_zero_unfinished": zero_unfinished,
            "eval_every": 100,
            "lora_r": 8,
        }
        work = tmp_path / str(zero_unfinished)
        outcome = run_training(
            spec(tiny, dataset, work, method="grpo", rubric=ANYTHING, hyperparameters=hyperparameters), hooks
        )
        assert outcome.hyperparameters["grpo_zero_unfinished"] is zero_unfinished
        first_step_reward[zero_unfinished] = hooks.reports[0].reward_mean
    assert first_step_reward[False] == 1.0  # every completion passes, finished or not
    assert 0 < first_step_reward[True] < 1.0, first_step_reward


# A learning rate this high makes the held-out reward jump about: the last step is not the best.
JUMPY_GRPO = {
    "grpo_steps": 6,
    "grpo_learning_rate": 0.5,
    "grpo_num_generations": 4,
    "grpo_max_completion_length": 8,
    "grpo_zero_unfinished": False,
    "checkpoint_every": 1,
    "eval_every": 1,
    "early_stopping_patience": 100,
    "lora_r": 8,
}


def test_grpo_ends_with_the_adapter_of_its_best_held_out_evaluation(tiny, dataset, tmp_path):
    """A learning rate this high makes the held-out reward jump about: the last step is not the
    best one, and the adapter handed over is the best evaluation's, not the last step's."""
    hooks = RecordingHooks(copy_to=tmp_path / "stored")
    outcome = run_training(
        spec(tiny, dataset, tmp_path / "work", method="grpo", hyperparameters=JUMPY_GRPO), hooks
    )
    record = json.loads((outcome.adapter_dir / "skill_adapter_training.json").read_text())
    kept = record["notes"]["grpo_kept_step"]
    assert kept < 6 and outcome.metrics["grpo_best_eval_reward"] > outcome.metrics["grpo_eval_reward"]
    final, best = weights(outcome.adapter_dir), weights(hooks.kept[f"grpo-{kept}"])
    assert final.keys() == best.keys()
    for name in final:
        torch.testing.assert_close(final[name], best[name])


def test_a_grpo_run_resumed_after_a_pause_still_ends_with_the_best_evaluations_adapter(
    tiny, dataset, tmp_path
):
    """The best evaluation came before the pause: its weights travel in the pause checkpoint."""
    paused = RecordingHooks(plan={3: "pause"}, copy_to=tmp_path / "stored")
    with pytest.raises(TrainingStopped):
        run_training(spec(tiny, dataset, tmp_path / "a", method="grpo", hyperparameters=JUMPY_GRPO), paused)
    shutil.rmtree(tmp_path / "a")  # resumed elsewhere: only the stored checkpoint is left

    again = run_training(
        spec(
            tiny,
            dataset,
            tmp_path / "b",
            method="grpo",
            hyperparameters=JUMPY_GRPO,
            resume_from=paused.kept["grpo-3"],
        ),
        RecordingHooks(),
    )
    record = json.loads((again.adapter_dir / "skill_adapter_training.json").read_text())
    assert record["notes"]["grpo_kept_step"] == 1
    final, best = weights(again.adapter_dir), weights(paused.kept["grpo-1"])
    for name in final:
        torch.testing.assert_close(final[name], best[name])
