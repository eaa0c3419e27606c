"""The dataset check: digests, shapes, and GRPO prompts without reward variance left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skill_adapter.trainer.core import TrainingError
from skill_adapter.trainer.training.data import load_dataset
from tests.support.training import grpo_prompt, sample, write_dataset

pytestmark = pytest.mark.unit


def test_samples_become_prompt_completion_pairs_and_flat_grpo_prompts_are_dropped(tmp_path: Path) -> None:
    digest = write_dataset(
        tmp_path,
        [sample("Hi?", "Hello.")],
        [sample("Bye?", "Bye.")],
        [grpo_prompt("Varied?", std=0.3, eval_id="e1"), grpo_prompt("Flat?", std=0.0)],
        max_length=512,
    )
    data = load_dataset(tmp_path, digest)
    assert data.train == [
        {
            "prompt": [{"role": "user", "content": "Hi?"}],
            "completion": [{"role": "assistant", "content": "Hello."}],
        }
    ]
    assert len(data.validation) == 1
    assert data.grpo == [{"prompt": [{"role": "user", "content": "Varied?"}], "eval_id": "e1"}]
    assert data.grpo_zero_variance_dropped == 1
    assert data.max_length == 512


def test_the_manifest_digest_must_match(tmp_path: Path) -> None:
    write_dataset(tmp_path, [sample("Hi?", "Hello.")])
    with pytest.raises(TrainingError) as failed:
        load_dataset(tmp_path, "f" * 64)
    assert failed.value.code == "dataset_digest_mismatch"


def test_a_missing_listed_file_is_named(tmp_path: Path) -> None:
    digest = write_dataset(tmp_path, [sample("Hi?", "Hello.")])
    (tmp_path / "grpo.jsonl").unlink()
    with pytest.raises(TrainingError, match=r"grpo\.jsonl, listed in manifest\.json, is missing"):
        load_dataset(tmp_path, digest)


def test_no_manifest_means_no_dataset(tmp_path: Path) -> None:
    with pytest.raises(TrainingError) as failed:
        load_dataset(tmp_path, "0" * 64)
    assert failed.value.code == "dataset_not_found"


def _rewrite_train(tmp_path: Path, lines: list[str]) -> str:
    """Replace train.jsonl and fix up the manifest so only the content is wrong."""
    import hashlib

    data = "".join(line + "\n" for line in lines).encode()
    (tmp_path / "train.jsonl").write_bytes(data)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["role"] == "train":
            entry["digest"] = hashlib.sha256(data).hexdigest()
    raw = json.dumps(manifest).encode()
    (tmp_path / "manifest.json").write_bytes(raw)
    return hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("not json", "train.jsonl line 1: not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "ends with a user message and the assistant"),
        (
            '{"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}',
            "a role",
        ),
        (
            '{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "y"}]}',
            "non-empty",
        ),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, words: str) -> None:
    write_dataset(tmp_path, [sample("Hi?", "Hello.")])
    digest = _rewrite_train(tmp_path, [line])
    with pytest.raises(TrainingError) as failed:
        load_dataset(tmp_path, digest)
    assert failed.value.code == "dataset_invalid" and words in failed.value.reason


def test_an_empty_training_set_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path, [sample("Hi?", "Hello.")])
    digest = _rewrite_train(tmp_path, [])
    with pytest.raises(TrainingError) as failed:
        load_dataset(tmp_path, digest)
    assert failed.value.code == "dataset_empty"
