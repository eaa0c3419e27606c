"""The prompts a run asks: held-out prompts of the skill, and the general regression set.

Held-out prompts come from the dataset the adapter was trained on (``heldout.jsonl`` in bucket
``datasets``: never trained on), checked against the manifest's digests; a run with no dataset
uses the skill's own eval prompts (``evals/evals.json``) and ``prompts/heldout.json``. The
general set ships with the evaluator (``general_set.json``): questions whose answers a program
can check, for "nothing else broke".
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from skill_adapter.contracts import HeldoutRecord
from skill_adapter.skillspec.bundle import Bundle
from skill_adapter.skillspec.evals import EvalSet

HELDOUT_PATH = "prompts/heldout.json"

PromptSet = Literal["skill", "general"]


@dataclass(frozen=True)
class EvalPrompt:
    id: str
    text: str
    set: PromptSet
    source: str
    eval_id: str | None = None
    near_miss: bool = False
    expected: tuple[str, ...] = field(default_factory=tuple)
    """Any of these in the reply means the content is right (near-miss and general prompts)."""
    reference: str | None = None


class PromptsInvalid(ValueError):
    """A prompt file that does not read: names the file and line."""


class ManifestFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    role: str
    digest: str


class DatasetManifest(BaseModel):
    """What the evaluator reads of a dataset's ``manifest.json``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dataset_id: str
    skill_name: str
    skill_version: str
    files: list[ManifestFile]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_heldout(data: bytes, name: str) -> list[EvalPrompt]:
    prompts: list[EvalPrompt] = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = HeldoutRecord.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            raise PromptsInvalid(f"{name} line {number}: {exc}") from exc
        expected = tuple(record.expected_content)
        if record.near_miss and not expected and record.reference:
            expected = (record.reference,)
        prompts.append(
            EvalPrompt(
                id=record.prompt_id,
                text=record.prompt,
                set="skill",
                source=record.source,
                eval_id=record.eval_id,
                near_miss=record.near_miss,
                expected=expected,
                reference=record.reference,
            )
        )
    return prompts


def bundle_prompts(bundle: Bundle, evals: EvalSet | None) -> list[EvalPrompt]:
    """The skill's eval cases, then ``prompts/heldout.json`` (strings or ``{"prompt"}`` objects)."""
    prompts = [
        EvalPrompt(
            id=f"eval-{case.id}",
            text=case.prompt,
            set="skill",
            source="evals",
            eval_id=case.id,
            reference=case.expected_output,
        )
        for case in (evals.evals if evals else [])
    ]
    raw = bundle.files.get(HELDOUT_PATH)
    if raw is not None:
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PromptsInvalid(f"{HELDOUT_PATH}: not valid JSON ({exc})") from exc
        if isinstance(data, dict):
            data = data.get("prompts")
        if not isinstance(data, list):
            raise PromptsInvalid(f"{HELDOUT_PATH}: must be a JSON list of prompts")
        for index, item in enumerate(data):
            text = item.get("prompt", item.get("text")) if isinstance(item, dict) else item
            if not isinstance(text, str) or not text.strip():
                raise PromptsInvalid(f"{HELDOUT_PATH}: entry {index} is not a non-empty string")
            prompts.append(EvalPrompt(id=f"heldout-{index}", text=text, set="skill", source="heldout_file"))
    seen: set[str] = set()
    unique: list[EvalPrompt] = []
    for prompt in prompts:
        key = " ".join(prompt.text.split()).casefold()
        if key not in seen:
            seen.add(key)
            unique.append(prompt)
    return unique


def general_set() -> list[EvalPrompt]:
    """The shipped general regression set."""
    data = json.loads(resources.files(__package__).joinpath("general_set.json").read_text("utf-8"))
    return [
        EvalPrompt(
            id=item["id"],
            text=item["prompt"],
            set="general",
            source="general",
            expected=tuple(item["expected"]),
        )
        for item in data["prompts"]
    ]


def content_ok(expected: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` says one of ``expected`` (case-insensitive; a number must stand alone,
    so "142" does not answer "42").

    >>> content_ok(("42",), "The answer is 42.")
    True
    >>> content_ok(("42",), "It is 142")
    False
    >>> content_ok(("Paris",), '{"answer": "paris"}')
    True
    """
    folded = text.casefold()
    for item in expected:
        wanted = item.casefold().strip()
        if not wanted:
            continue
        if re.fullmatch(r"-?\d+(\.\d+)?", wanted):
            if re.search(rf"(?<![\d.]){re.escape(wanted)}(?![\d]|\.\d)", folded):
                return True
        elif wanted in folded:
            return True
    return False
