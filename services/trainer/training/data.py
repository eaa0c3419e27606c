"""The job's dataset as the data generator stored it, checked before any training starts.

``manifest.json`` must have the digest the job names; every file the manifest lists must be
there with the digest it records; every line must be a conversation (SFT) or a prompt (GRPO)
in the shapes the generator writes. Nothing here trusts the files: a dataset that does not
match fails the job with the file and line that broke it.

SFT samples become TRL's conversational prompt/completion form (loss on the completion, i.e.
the assistant's reply, only); GRPO prompts keep their ``eval_id`` (rubric criteria scoped to
one eval apply only to its prompts) and only prompts whose sampled rewards varied are kept:
a prompt where every sample scores the same gives GRPO no signal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import TrainingError

MANIFEST = "manifest.json"
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TrainingData:
    manifest: dict[str, Any]
    train: list[dict[str, Any]]
    """``{"prompt": [messages], "completion": [assistant message]}``"""
    validation: list[dict[str, Any]]
    grpo: list[dict[str, Any]]
    """``{"prompt": [messages], "eval_id": str | None}``"""
    grpo_zero_variance_dropped: int

    @property
    def max_length(self) -> int:
        value = self.manifest.get("max_length")
        return int(value) if isinstance(value, int) and value > 0 else 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bad(reason: str) -> TrainingError:
    return TrainingError(
        "dataset_invalid", reason, ["generate the dataset again: skill-adapter data generate <skill>"]
    )


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _bad(f"{where}: expected a non-empty list of messages")
    messages = []
    for message in value:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
            or not message["content"]
        ):
            raise _bad(f"{where}: every message needs a role ({', '.join(ROLES)}) and non-empty content")
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise _bad(f"{path.name} line {number}: not JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise _bad(f"{path.name} line {number}: not a JSON object")
        rows.append((number, row))
    return rows


def _samples(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    samples = []
    for number, row in _lines(path):
        messages = _messages(row.get("messages"), f"{path.name} line {number}")
        if len(messages) < 2 or messages[-1]["role"] != "assistant" or messages[-2]["role"] != "user":
            raise _bad(
                f"{path.name} line {number}: a sample ends with a user message and the assistant's reply"
            )
        samples.append({"prompt": messages[:-1], "completion": messages[-1:]})
    return samples


def _grpo(path: Path | None) -> tuple[list[dict[str, Any]], int]:
    if path is None:
        return [], 0
    prompts, dropped = [], 0
    for number, row in _lines(path):
        where = f"{path.name} line {number}"
        messages = _messages(row.get("prompt"), where)
        if messages[-1]["role"] != "user":
            raise _bad(f"{where}: a GRPO prompt ends with the user's message")
        std = row.get("reward_std", 1.0)
        if not isinstance(std, int | float) or std < 0:
            raise _bad(f"{where}: reward_std must be a number >= 0")
        if std == 0:
            dropped += 1
            continue
        eval_id = row.get("eval_id")
        prompts.append({"prompt": messages, "eval_id": eval_id if isinstance(eval_id, str) else None})
    return prompts, dropped


def load_dataset(folder: Path, digest: str) -> TrainingData:
    """Check ``folder`` against ``digest`` and the manifest, and read it; ``TrainingError`` if it does not match."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise TrainingError("dataset_not_found", f"the dataset has no {MANIFEST}")
    actual = _sha256(manifest_path)
    if actual != digest:
        raise TrainingError(
            "dataset_digest_mismatch",
            f"{MANIFEST} has sha256 {actual[:12]}…, the job asked for {digest[:12]}…: the dataset changed "
            "or the job names another one",
            ["start the job with the digest from the dataset's datasets.evt.dataset.generated.v1 event"],
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise _bad(f"{MANIFEST} is not JSON: {exc}") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        raise _bad(f"{MANIFEST} lists no files")
    by_role: dict[str, Path] = {}
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise _bad(f"{MANIFEST}: a file entry without a name")
        path = folder / Path(entry["name"]).name
        if not path.is_file():
            raise _bad(f"{path.name}, listed in {MANIFEST}, is missing")
        if _sha256(path) != entry.get("digest"):
            raise TrainingError(
                "dataset_digest_mismatch",
                f"{path.name} does not have the sha256 its manifest records: the file changed after it was generated",
            )
        by_role[str(entry.get("role"))] = path
    train = _samples(by_role.get("train"))
    if not train:
        raise TrainingError(
            "dataset_empty",
            "the dataset has no training samples",
            ["generate more samples: skill-adapter data generate <skill> --samples 200"],
        )
    grpo, dropped = _grpo(by_role.get("grpo"))
    return TrainingData(
        manifest=manifest,
        train=train,
        validation=_samples(by_role.get("validation")),
        grpo=grpo,
        grpo_zero_variance_dropped=dropped,
    )
