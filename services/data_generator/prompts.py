"""The prompts a skill is taught and tested on, and where each one comes from.

Held out (never trained on): the cases of ``evals/evals.json`` and the prompts of
``prompts/heldout.json``. Candidates for training: the example prompts in the skill's body
(with the reply the author wrote), prompts synthesized from task families that fit the skill,
near-miss prompts whose content a program can check, and a teacher's paraphrases of any of
them. Everything here is pure and deterministic: same skill and seed, same prompts and ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from skill_adapter.skillspec.document import Bundle, SkillDocument
from skill_adapter.skillspec.evals import EvalSet

from .dedupe import normalize, prompt_id
from .paraphrase import paraphrase_instruction, parse_paraphrase
from .synthesis import compose

__all__ = [
    "HELDOUT_PATH",
    "Prompt",
    "PromptFileError",
    "PromptSource",
    "as_paraphrase",
    "distinct",
    "example_prompts",
    "heldout_prompts",
    "near_miss_prompts",
    "paraphrase_instruction",
    "parse_paraphrase",
    "prompt_id",
    "synthesized_prompts",
]

PromptSource = Literal["evals", "heldout_file", "example", "template", "paraphrase", "near_miss"]
HELDOUT_PATH = "prompts/heldout.json"

_MARK = r"(?:\*\*|__)?"
_USER = re.compile(rf"^\s*(?:[-*>]\s*)?{_MARK}(user|human|input){_MARK}\s*:\s*{_MARK}\s*(.*)$", re.I)
_REPLY = re.compile(
    rf"^\s*(?:[-*>]\s*)?{_MARK}(?:assistant|reply|response|output|answer|ai|model){_MARK}\s*:\s*{_MARK}\s*(.*)$",
    re.I,
)
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_HEADING = re.compile(r"^#{1,6}\s")
_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'"}


class PromptFileError(ValueError):
    """A prompt file in the bundle that cannot be read; says which file and entry."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class Prompt(BaseModel):
    """One prompt. ``id`` is derived from the normalized text when not given, so the same
    prompt has the same id in every run and every dataset version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    text: str = Field(min_length=1)
    source: PromptSource
    near_miss: bool = False  # the skill must not change the content of the answer
    eval_id: str | None = None  # the evals.json case it came from
    reference: str | None = None  # a known compliant reply (body example, evals expected_output)
    expected_content: list[str] = Field(default_factory=list)  # any of them, case-insensitive
    family: str | None = None  # the task family or template it came from

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            data = {**data, "text": data["text"].strip()}
            data.setdefault("id", prompt_id(data["text"]))
        return data


def distinct(prompts: Iterable[Prompt]) -> list[Prompt]:
    """The first prompt with each id (each normalized text), in order."""
    seen: set[str] = set()
    kept: list[Prompt] = []
    for prompt in prompts:
        if prompt.id not in seen:
            seen.add(prompt.id)
            kept.append(prompt)
    return kept


def heldout_prompts(bundle: Bundle, evals: EvalSet | None) -> list[Prompt]:
    """The eval cases (with their expected output as reference), then ``prompts/heldout.json``
    (a JSON list of strings, or of objects with a ``prompt``); repeats are kept once."""
    prompts = [
        Prompt(text=case.prompt, source="evals", eval_id=case.id, reference=case.expected_output)
        for case in (evals.evals if evals else [])
    ]
    raw = bundle.files.get(HELDOUT_PATH)
    if raw is not None:
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PromptFileError(HELDOUT_PATH, f"not valid JSON ({exc})") from exc
        if isinstance(data, dict):
            data = data.get("prompts")
        if not isinstance(data, list):
            raise PromptFileError(HELDOUT_PATH, "must be a JSON list of prompts")
        for index, item in enumerate(data):
            text = item.get("prompt", item.get("text")) if isinstance(item, dict) else item
            if not isinstance(text, str) or not text.strip():
                raise PromptFileError(HELDOUT_PATH, f"entry {index} is not a non-empty string")
            prompts.append(Prompt(text=text, source="heldout_file"))
    return distinct(prompts)


def _unquote(text: str) -> str:
    text = text.strip().strip("*_").strip()
    close = _QUOTES.get(text[:1])
    if close and len(text) > 1 and text.endswith(close) and close not in text[1:-1]:
        return text[1:-1].strip()
    return text


def _fenced(lines: list[str], start: int) -> tuple[str, int]:
    """The content of the fence opening at ``start``, and the line after it closes."""
    marker = _FENCE.match(lines[start]).group(1)  # type: ignore[union-attr]
    end = start + 1
    while end < len(lines) and not lines[end].strip().startswith(marker):
        end += 1
    return "\n".join(lines[start + 1 : end]).strip("\n"), end + 1


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _paragraph(lines: list[str], i: int, first: str, *, quoted: bool) -> tuple[str, int]:
    """``first`` and the lines that continue it, up to a blank line, fence, new turn, or a
    quote (unless the turn itself is quoted, then its ``>`` marks are dropped)."""
    parts = [first]
    while (
        i < len(lines)
        and lines[i].strip()
        and not any(p.match(lines[i]) for p in (_FENCE, _USER, _REPLY, _HEADING))
    ):
        line = lines[i].strip()
        if line.startswith(">") and not quoted:
            break
        parts.append(line.removeprefix(">").strip() if quoted else line)
        i += 1
    return "\n".join(p for p in parts if p).strip(), i


def example_prompts(document: SkillDocument) -> list[Prompt]:
    """``User: ...`` (or ``Input:``/``Human:``) lines of the body, each with the fenced block,
    ``Assistant:``/``Output:`` line or quote that follows it as ``reference``."""
    lines = document.body.splitlines()
    found: list[Prompt] = []
    i = 0
    while i < len(lines):
        if _FENCE.match(lines[i]):
            i = _fenced(lines, i)[1]
            continue
        match = _USER.match(lines[i])
        if not match:
            i += 1
            continue
        quoted = lines[i].lstrip().startswith(">")
        text, i = _paragraph(lines, i + 1, match.group(2).strip(), quoted=quoted)
        i = _skip_blank(lines, i)
        if not text and i < len(lines) and _FENCE.match(lines[i]):
            text, i = _fenced(lines, i)
            i = _skip_blank(lines, i)
        reference: str | None = None
        if i < len(lines) and _FENCE.match(lines[i]):
            reference, i = _fenced(lines, i)
        elif i < len(lines) and (reply := _REPLY.match(lines[i])):
            reference, i = _paragraph(lines, i + 1, reply.group(1).strip(), quoted=quoted)
        elif i < len(lines) and lines[i].lstrip().startswith(">"):
            quoted: list[str] = []
            while i < len(lines) and lines[i].lstrip().startswith(">"):
                quoted.append(lines[i].lstrip()[1:].strip())
                i += 1
            reference = "\n".join(quoted)
        text = _unquote(text)
        labelled_input = match.group(1).casefold() == "input"  # "Input: a diff" may describe, not ask
        if normalize(text) and (reference or not labelled_input):
            found.append(Prompt(text=text, source="example", reference=reference or None, family="example"))
    return distinct(found)


def synthesized_prompts(document: SkillDocument, *, seed: int, count: int) -> list[Prompt]:
    """Up to ``count`` prompts from the task families that fit the skill, framed the way the
    skill's users ask; ``expected_content`` is set where the answer can be checked."""
    return [
        Prompt(
            text=d.text,
            source="template",
            family=d.family,
            expected_content=list(dict.fromkeys(d.task.expected)),
        )
        for d in compose(document, seed=seed, count=count, near_miss=False)
    ]


def near_miss_prompts(document: SkillDocument, *, seed: int, count: int) -> list[Prompt]:
    """Up to ``count`` prompts in the skill's domain whose answer content a program can check:
    the skill may change the form of the answer, never what ``expected_content`` says."""
    return [
        Prompt(
            text=d.text,
            source="near_miss",
            near_miss=True,
            family=d.family,
            expected_content=list(dict.fromkeys(d.task.expected)),
        )
        for d in compose(document, seed=seed, count=count, near_miss=True)
    ]


def as_paraphrase(original: Prompt, text: str) -> Prompt:
    """A teacher's paraphrase of ``original``: same checks, no reference (the original's reply
    answers other words)."""
    return Prompt(
        text=text,
        source="paraphrase",
        near_miss=original.near_miss,
        expected_content=original.expected_content,
        family=original.family,
    )
