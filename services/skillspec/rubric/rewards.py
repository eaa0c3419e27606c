r"""Reward functions for TRL's ``GRPOTrainer``, built from a rubric.

Each function takes ``completions`` (plain strings, or conversations: lists of message dicts,
whose last assistant message is graded) and TRL's other keyword arguments, and returns one
reward per completion. When the dataset has an ``eval_id`` column, TRL passes it as a keyword
argument; a criterion that belongs to one eval gives ``None`` (TRL ignores it) for samples of
any other prompt, as it does when there is no such column. Each function's ``__name__`` is what
TRL logs (``rewards/<name>/mean``).

Example:

>>> from skill_adapter.contracts import Criterion, LengthCheck, Provenance, Rubric, RubricCoverage
>>> from skill_adapter.contracts import ValidJsonCheck
>>> where = Provenance(source="body", file="SKILL.md", line=7, text="Reply in JSON, in at most 4 words.")
>>> rubric = Rubric(
...     skill_name="demo",
...     skill_version="1",
...     criteria=[
...         Criterion(id="body.l7.valid-json", description="JSON", check=ValidJsonCheck(), provenance=where),
...         Criterion(
...             id="body.l7.max-words",
...             description="At most 4 words",
...             check=LengthCheck(unit="words", max=4),
...             provenance=where,
...         ),
...     ],
...     coverage=RubricCoverage(
...         constraint_sentences=1, compiled_sentences=1, deterministic_criteria=2, judge_criteria=0
...     ),
... )
>>> reward = rubric_reward(rubric)
>>> reward.__name__
'rubric_demo'
>>> completions = [
...     [{"role": "assistant", "content": '{"ok": true}'}],
...     [{"role": "assistant", "content": "Sure! Here it is: no JSON today"}],
... ]
>>> reward(completions)  # the second: not JSON (0.0), 7 words of 4 (0.25)
[1.0, 0.125]
>>> reward_function(rubric.criteria[1])(["three short words", "1 2 3 4 5 6"])
[1.0, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from skill_adapter.contracts import Criterion, Rubric

from .checks import JudgeRequired, run_check
from .grading import applies

RewardFunction = Callable[..., list[float | None]]


def completion_text(completion: Any) -> str:
    """The text to grade: a string as is, or the last assistant message of a conversation.

    Message content may be a string or a list of parts (``{"type": "text", "text": ...}``).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    messages = [m for m in completion if isinstance(m, dict)]
    replies = [m for m in messages if m.get("role", "assistant") == "assistant"] or messages
    if not replies:
        return ""
    content = replies[-1].get("content") or ""
    if isinstance(content, str):
        return content
    return "".join(
        part.get("text", "") if isinstance(part, dict) else str(part)
        for part in content
        if not isinstance(part, dict) or part.get("type", "text") == "text"
    )


def _eval_ids(count: int, kwargs: dict[str, Any]) -> Sequence[str | None]:
    ids = kwargs.get("eval_id")
    if ids is None:
        return [None] * count
    if len(ids) != count:
        raise ValueError(f"got {len(ids)} eval ids for {count} completions")
    return [None if i is None else str(i) for i in ids]


def reward_function(criterion: Criterion, *, partial_credit: bool = True) -> RewardFunction:
    """A reward for one deterministic criterion: its check's score (or 1/0 without partial credit).

    ``JudgeRequired`` for a judge criterion: its reward needs a judge model.
    """
    if not criterion.deterministic:
        raise JudgeRequired(criterion.check.instruction)  # type: ignore[union-attr]
    check = criterion.check

    def reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        rewards: list[float | None] = []
        for completion, eval_id in zip(completions, _eval_ids(len(completions), kwargs), strict=True):
            if not applies(criterion, eval_id):
                rewards.append(None)
                continue
            outcome = run_check(check, completion_text(completion))
            rewards.append(outcome.score if partial_credit else float(outcome.passed))
        return rewards

    reward.__name__ = reward.__qualname__ = criterion.id
    reward.__doc__ = f"Reward for criterion {criterion.id}: {criterion.description}"
    return reward


def rubric_reward(rubric: Rubric, *, partial_credit: bool = True) -> RewardFunction:
    """The weighted mean of every applicable deterministic criterion's reward.

    A sample that no deterministic criterion applies to gets ``None``. ``ValueError`` when the
    rubric has no deterministic criterion at all (a constant reward teaches nothing).
    """
    parts = [
        (c, reward_function(c, partial_credit=partial_credit)) for c in rubric.criteria if c.deterministic
    ]
    if not parts:
        raise ValueError(f"rubric of {rubric.skill_name!r} has no deterministic criterion to reward")

    def reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        columns = [(c.weight, fn(completions, **kwargs)) for c, fn in parts]
        rewards: list[float | None] = []
        for i in range(len(completions)):
            scored = [(weight, values[i]) for weight, values in columns if values[i] is not None]
            total = sum(weight for weight, _ in scored)
            rewards.append(sum(weight * value for weight, value in scored) / total if total else None)
        return rewards

    reward.__name__ = reward.__qualname__ = f"rubric_{rubric.skill_name}"
    reward.__doc__ = f"Weighted rubric reward of skill {rubric.skill_name} version {rubric.skill_version}."
    return reward


def finished_only(function: RewardFunction, stop_ids: Collection[int]) -> RewardFunction:
    """``function``, except that a completion that never ended is rewarded 0.

    TRL passes ``completion_ids`` cut after the first end-of-sequence token, so a completion
    whose last id is not one of ``stop_ids`` ran into ``max_completion_length``. Grading the
    part that fit would pay a reply that rambles on for whatever its opening gets right, and
    the policy would never learn to stop (the data-generator rejects such replies for the same
    reason). ``None`` (the criterion does not apply) stays ``None``; without ``completion_ids``
    the rewards are ``function``'s own.

    >>> always = lambda completions, **kwargs: [1.0] * len(completions)
    >>> finished_only(always, {2})(["done", "cut off"], completion_ids=[[7, 2], [7, 7]])
    [1.0, 0.0]
    """
    stops = frozenset(stop_ids)
    if not stops:
        raise ValueError("no stop token ids: every completion would count as unfinished")

    def reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        rewards = function(completions, **kwargs)
        ids = kwargs.get("completion_ids")
        if ids is None:
            return rewards
        if len(ids) != len(completions):
            raise ValueError(f"got {len(ids)} completion id lists for {len(completions)} completions")
        return [
            None if value is None else value if len(row) and row[-1] in stops else 0.0
            for value, row in zip(rewards, ids, strict=True)
        ]

    reward.__name__ = reward.__qualname__ = getattr(function, "__name__", "reward")
    reward.__doc__ = function.__doc__
    return reward
