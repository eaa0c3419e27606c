"""What ``auto`` picks, and the clear refusals of values the trainer cannot use."""

from __future__ import annotations

import pytest

from skill_adapter.trainer.core import TrainingError
from skill_adapter.trainer.training.hyperparams import SPEC, Facts, resolve, validate

pytestmark = pytest.mark.unit

SMALL_CPU = Facts(
    num_parameters=135_000_000,
    train_samples=200,
    grpo_prompts=24,
    cuda=False,
    max_length=1024,
    longest_reply_tokens=80,
)


def test_auto_picks_every_value_from_model_data_and_device() -> None:
    chosen = resolve({}, SMALL_CPU)
    assert set(chosen) == set(SPEC)
    assert chosen["lora_r"] == 16 and chosen["lora_alpha"] == 32
    assert chosen["learning_rate"] == 5e-4  # a small model
    assert (chosen["batch_size"], chosen["micro_batch_size"]) == (8, 4)  # CPU: accumulate 2
    assert chosen["n_epochs"] == 4 and chosen["max_steps"] == 100  # 25 steps an epoch
    assert chosen["max_length"] == 1024
    assert chosen["grpo_steps"] == 48 and chosen["grpo_max_completion_length"] == 100
    assert chosen["checkpoint_every"] == 20
    assert chosen["grpo_zero_unfinished"] is True


def test_auto_follows_size_and_device() -> None:
    big_gpu = Facts(7_000_000_000, 5000, 200, True, 2048, 400)
    chosen = resolve({"n_epochs": "auto"}, big_gpu)
    assert chosen["learning_rate"] == 1e-4
    assert chosen["micro_batch_size"] == 8
    assert chosen["n_epochs"] == 1  # 625 steps in one pass
    assert chosen["grpo_max_completion_length"] == 256


def test_values_set_by_the_job_win_and_only_the_phases_run_are_recorded() -> None:
    chosen = resolve({"lora_r": 8, "learning_rate": 1e-3}, SMALL_CPU, phases=["sft"])
    assert chosen["lora_r"] == 8 and chosen["lora_alpha"] == 16 and chosen["learning_rate"] == 1e-3
    assert not any(key.startswith("grpo_") for key in chosen)
    assert "eval_every" not in chosen
    grpo_only = resolve({}, SMALL_CPU, phases=["grpo"])
    assert "n_epochs" not in grpo_only and "grpo_steps" in grpo_only


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"lora_r": 12}, "ranks vLLM serves"),
        ({"lora_r": True}, "ranks vLLM serves"),
        ({"lora_dropout": 0.9}, "lora_dropout=0.9"),
        ({"learning_rate": 0}, "above 0.0"),
        ({"n_epochs": 2.5}, "an integer from 1 to 100"),
        ({"lr_scheduler": "exotic"}, "one of cosine"),
        ({"target_modules": "q_proj,lm_head"}, "cannot be served by vLLM"),
        ({"gradient_checkpointing": "yes"}, "true or false"),
        ({"epochs": 3}, "unknown hyperparameter 'epochs'"),
    ],
)
def test_bad_values_name_the_key_and_what_it_accepts(value, words) -> None:
    with pytest.raises(TrainingError) as failed:
        validate(value)
    assert failed.value.code == "invalid_hyperparameters"
    assert words in failed.value.reason


def test_every_bad_key_is_reported_at_once() -> None:
    with pytest.raises(TrainingError) as failed:
        validate({"lora_r": 3, "n_epochs": 0})
    assert "lora_r" in failed.value.reason and "n_epochs" in failed.value.reason


def test_batch_must_split_into_micro_batches() -> None:
    with pytest.raises(TrainingError, match="not a multiple"):
        resolve({"batch_size": 6, "micro_batch_size": 4}, SMALL_CPU)
