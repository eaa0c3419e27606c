"""Drawing framed prompts for a skill from its task families.

Draws follow the families' shares; a subject (task key) is used once, so a thousand prompts
are a thousand different requests, not one request in a thousand wordings. A checkable subject
belongs to one lane, template or near-miss, so a near-miss prompt held out for evaluation has
no reworded twin among the training prompts. Each batch is deduplicated (near duplicates
included) against what was kept, and drawing stops when the count is reached or every family
is exhausted. Everything comes from one ``random.Random`` seeded with the seed and the lane.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from skill_adapter.skillspec.document import SkillDocument

from .dedupe import deduplicate
from .framings import Framings, apply, decapitalized, skill_framings
from .taskbank import FamilyChoice, Task, choose_families, in_near_miss_lane

SKILL_FRAMING_SHARE = 0.35  # framed the way the skill says its users ask
FAMILY_FRAMING_SHARE = 0.2  # framed in a neutral way ("Quick question: ...", "Notes: ...")
MAX_MISSES = 500  # draws in a row a family may waste (seen subject, other lane) before it counts as exhausted
MAX_ROUNDS = 8


@dataclass(frozen=True)
class Draft:
    """A framed prompt before it becomes a ``Prompt``: its text, family and task."""

    text: str
    family: str
    task: Task


def _frame(task: Task, choice: FamilyChoice, framings: Framings, rng: random.Random) -> str:
    own = framings.for_task(task.text)
    family = [f for f in choice.family.framings if f != "{task}"]
    roll = rng.random()
    if own and roll < SKILL_FRAMING_SHARE:
        template = rng.choice(own)
    elif family and roll < SKILL_FRAMING_SHARE + FAMILY_FRAMING_SHARE:
        template = rng.choice(family)
    else:
        template = "{task}"
    text = apply(template, task.text)
    if rng.random() < 0.12:  # people do not always capitalise or punctuate
        text = decapitalized(text)
    if "\n" not in text and rng.random() < 0.1:
        text = text.rstrip("?.")
    return text


def _wanted(task: Task, near_miss: bool) -> bool:
    if near_miss:
        return bool(task.expected) and in_near_miss_lane(task.key)
    return not task.expected or not in_near_miss_lane(task.key)


def compose(document: SkillDocument, *, seed: int, count: int, near_miss: bool) -> list[Draft]:
    """Up to ``count`` distinct framed prompts for the skill, none a near duplicate of another."""
    if count <= 0:
        return []
    choices = choose_families(document, checkable_only=near_miss)
    framings = skill_framings(document)
    lane = "near-miss" if near_miss else "template"
    rng = random.Random(f"{seed}:{lane}:{document.name}")  # noqa: S311 - reproducible sampling, not secrets
    active = list(choices)
    misses: Counter[str] = Counter()
    used: set[str] = set()
    kept: list[Draft] = []
    for _ in range(MAX_ROUNDS):
        need = count - len(kept)
        batch: list[Draft] = []
        while active and len(batch) < need + need // 5 + 4:
            choice = rng.choices(active, weights=[c.share for c in active])[0]
            task = choice.family.draw(rng)
            if task.key in used or not _wanted(task, near_miss):
                misses[choice.family.name] += 1
                if misses[choice.family.name] >= MAX_MISSES:
                    active.remove(choice)
                continue
            misses[choice.family.name] = 0
            used.add(task.key)
            batch.append(Draft(_frame(task, choice, framings, rng), choice.family.name, task))
        fresh, _ = deduplicate(batch, against=kept)
        kept += fresh[:need]
        if len(kept) >= count or not active:
            break
    return kept
