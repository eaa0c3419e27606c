"""Where candidate responses come from: a teacher, guided decoding, or best of N samples.

Every strategy samples a model *with the skill in its context* (the system prompt agent
clients use), so the content is the model's own reading of the skill; the dataset then pairs
the bare prompt with the verified response, which is what teaches the skill without it.

* ``teacher``: the configured teacher model (any OpenAI-compatible endpoint).
* ``guided``: the base model, constrained by the rubric's output constraint (a JSON Schema, or
  the grammar of every full-match regex and "never contains" text, else the one regex, as
  vLLM's ``structured_outputs``): the structure is right by construction, the words are the
  model's. A server that cannot follow the grammar (vLLM with its default xgrammar backend)
  gets the regex for the rest of the run.
* ``best_of_n``: the base model, unconstrained, N samples; the verifier keeps the best.
* ``reference``: a reply the skill itself gives for an example prompt (no model involved).

Seeds are derived from the run's seed, the prompt and the round, so a rerun asks the same
questions with the same seeds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from skill_adapter.contracts import LengthCheck, OutputConstraint, Rubric
from skill_adapter.runtime.log import get_logger

from .inference import ChatClient, InferenceError
from .prompts import Prompt

log = get_logger(__name__)


class StrategyUnavailable(Exception):
    """A strategy the run asked for cannot run (no teacher, no output constraint)."""


@dataclass(frozen=True)
class Candidate:
    text: str
    strategy: str
    finish_reason: str | None


def derived_seed(*parts: object) -> int:
    """A stable 31-bit seed from the parts (the same on every machine and Python)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


ONE_LINE_JSON = " ?"
"""JSON whitespace for guided replies: at most one space between tokens, never a newline.

With free whitespace a small model pads JSON with newlines (measured on SmolLM2 and the
json-reply skill: 38 of 47 guided replies broke its single-line rule), so guided JSON is
written on one line, as agents and the skills' own examples write it, unless the rubric asks
for several lines. vLLM reads the option from its server configuration, not per request."""


def constraint_body(
    constraint: OutputConstraint, *, multiline: bool = False, grammar: bool = True
) -> dict[str, Any]:
    """The request fields that ask an OpenAI-compatible server for ``constraint``
    (vLLM's ``structured_outputs``, which the gateway's local engine follows too): its grammar
    when it has one and ``grammar`` allows, else its regex.

    >>> constraint_body(OutputConstraint(kind="regex", regex="(yes|no)"))
    {'structured_outputs': {'regex': '(yes|no)'}}
    >>> both = OutputConstraint(kind="regex", regex="a+", grammar="start: R\\nR: /a+/ & /.{1,3}/")
    >>> constraint_body(both)["structured_outputs"].keys(), constraint_body(both, grammar=False)
    (dict_keys(['grammar']), {'structured_outputs': {'regex': 'a+'}})
    """
    if constraint.kind == "json_schema":
        outputs: dict[str, Any] = {"json": constraint.json_schema}
        if not multiline:
            outputs["whitespace_pattern"] = ONE_LINE_JSON
        return {"structured_outputs": outputs}
    if grammar and constraint.grammar is not None:
        return {"structured_outputs": {"grammar": constraint.grammar}}
    return {"structured_outputs": {"regex": constraint.regex}}


def reply_budget(rubric: Rubric, default: int) -> int:
    """``max_tokens`` for replies: ``default``, or more when the rubric allows longer replies
    (about 1.7 tokens per word, 1 per 3 characters), so a long format is not cut short."""
    budget = default
    for criterion in rubric.criteria:
        check = criterion.check
        if isinstance(check, LengthCheck) and check.max is not None:
            if check.unit == "words":
                budget = max(budget, int(check.max * 1.7) + 32)
            elif check.unit == "characters":
                budget = max(budget, check.max // 3 + 32)
    return min(budget, 4 * default)


def wants_several_lines(rubric: Rubric) -> bool:
    """Whether a criterion asks for more than one line (then JSON whitespace stays free)."""
    return any(
        isinstance(c.check, LengthCheck) and c.check.unit == "lines" and (c.check.min or 0) > 1
        for c in rubric.criteria
    )


@dataclass
class Sampler:
    """What a strategy samples from; ``system`` is the skill rendered for the context."""

    base: ChatClient
    base_model: str
    system: str
    max_tokens: int
    temperature: float
    candidates: int
    constraint: OutputConstraint | None = None
    teacher: ChatClient | None = None
    teacher_model: str | None = None
    multiline: bool = False
    grammar_refused: str | None = None
    """Why the server could not follow the constraint's grammar (then guided requests send its
    regex); ``grammar_works`` once it has followed it (then a failure is not the grammar's)."""
    grammar_works: bool = False

    def available(self, strategy: str) -> str | None:
        """Why ``strategy`` cannot run here, or ``None`` when it can."""
        if strategy == "teacher" and (self.teacher is None or not self.teacher_model):
            return "no teacher model is configured (SKILL_ADAPTER_TEACHER_MODEL)"
        if strategy == "guided" and self.constraint is None:
            return "the skill's rubric has no formal output constraint (JSON Schema or full-match regex)"
        return None

    def messages(self, prompt: Prompt) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": prompt.text}]

    async def sample(
        self, strategy: str, prompt: Prompt, *, seed: int, n: int | None = None
    ) -> list[Candidate]:
        problem = self.available(strategy)
        if problem:
            raise StrategyUnavailable(f"strategy {strategy!r}: {problem}")
        if strategy == "reference":
            return [Candidate(prompt.reference, "reference", "stop")] if prompt.reference else []
        client, model = self.base, self.base_model
        constraint: dict[str, Any] | None = None
        count = 1
        if strategy == "teacher":
            assert self.teacher is not None and self.teacher_model
            client, model = self.teacher, self.teacher_model
        elif strategy == "guided":
            assert self.constraint is not None
            constraint = constraint_body(
                self.constraint, multiline=self.multiline, grammar=self.grammar_refused is None
            )
            # two rows share the prompt's prefill and cost little more than one on a CPU
            count = min(2, self.candidates)
        elif strategy == "best_of_n":
            count = self.candidates
        else:
            raise StrategyUnavailable(f"unknown strategy {strategy!r}")
        request = {
            "n": n or count,
            "temperature": self.temperature,
            "seed": seed,
            "max_tokens": self.max_tokens,
        }
        try:
            result = await client.chat(model, self.messages(prompt), **request, constraint=constraint)
        except InferenceError as exc:
            # A server that cannot follow the grammar refuses it (400) or fails on it (vLLM with
            # its xgrammar backend answers 500): once the regex works instead, it gets the regex.
            if self.grammar_works or not (constraint and "grammar" in constraint["structured_outputs"]):
                raise
            assert self.constraint is not None
            constraint = constraint_body(self.constraint, multiline=self.multiline, grammar=False)
            result = await client.chat(model, self.messages(prompt), **request, constraint=constraint)
            if self.grammar_refused is None:
                log.warning(
                    "the inference server cannot follow the output grammar; guided requests send "
                    "the rubric's first full-match regex (for vLLM: --structured-outputs-config.backend guidance)",
                    error=str(exc),
                )
            self.grammar_refused = str(exc)
        else:
            if constraint and "grammar" in constraint["structured_outputs"]:
                self.grammar_works = True
        return [Candidate(c.text.strip(), strategy, c.finish_reason) for c in result.choices]


def plan(requested: str, sampler: Sampler) -> tuple[list[str], dict[str, str]]:
    """The strategies a run uses, in the order it tries them, and why others are out.

    ``auto``: teacher (when configured), then guided (when the rubric has a constraint), then
    best_of_n. A strategy named explicitly that cannot run is an error, not a fallback.
    """
    if requested != "auto":
        problem = sampler.available(requested)
        if problem:
            raise StrategyUnavailable(f"strategy {requested!r} cannot run: {problem}")
        return [requested], {}
    order, skipped = [], {}
    for strategy in ("teacher", "guided", "best_of_n"):
        problem = sampler.available(strategy)
        if problem:
            skipped[strategy] = problem
        else:
            order.append(strategy)
    return order, skipped
