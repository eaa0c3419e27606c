"""Task families, and which of them fit a skill.

A family is a kind of request a user makes (an arithmetic question, a description of a code
change, rough project notes, an email to write) with a ``draw`` that builds one task from
slots and, when the answer is computable, the content a correct answer must contain. The skill
does not choose the families by name: each family lists keywords, and a family fits a skill by
how many of them the skill's own words use, weighted by where (its name and its "Use when ..."
text count most, then its description, then the rest of its body). Families scoring at least
half the best are chosen, with shares by score. A skill that matches nothing is taught on
general questions, because any instruction-following skill still has to answer those; one
that matches thinly (one keyword) gets them in addition.

The families live in ``taskbank_*`` modules; this module only knows their shape.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from skill_adapter.skillspec.document import SkillDocument

MIN_SCORE = 3.0  # one keyword in the skill's name or trigger text
STRONG_SCORE = 6.0  # below this the match is thin: general questions are added
RELATIVE_CUTOFF = 0.5  # a family must score at least half of the best one
WEIGHT_NAME, WEIGHT_TRIGGER, WEIGHT_DESCRIPTION, WEIGHT_BODY = 3.0, 3.0, 2.0, 1.0
NEAR_MISS_LANE = 3  # one checkable subject in three is kept for near-miss prompts

_TRIGGER_HEADING = re.compile(r"^#{1,6}\s*(when to (use|apply)|use (it |this skill )?when|triggers?)\b", re.I)
_HEADING = re.compile(r"^#{1,6}\s")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_USE_WHEN = re.compile(r"\buse (?:this skill |it )?(?:when|whenever|for|if)\b", re.I)
EXAMPLE_PROMPT = re.compile(r"^\s*(?:[-*>]\s*)?(?:\*\*|__)?(?:user|human|input)(?:\*\*|__)?\s*:", re.I)


@dataclass(frozen=True)
class Task:
    """One request without framing. ``key`` names what it asks (``capital:peru``): two tasks
    with one key ask the same thing, however worded. ``expected``: strings a correct answer
    contains (any of them, case-insensitive); empty when the answer cannot be checked."""

    text: str
    key: str
    expected: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    name: str
    keywords: tuple[str, ...]
    draw: Callable[[random.Random], Task]
    framings: tuple[str, ...] = ("{task}",)  # neutral, skill-independent ways to ask
    weight: float = 1.0  # relative share among the chosen families
    fallback: bool = False  # one of the general questions every skill can be taught on
    checkable: bool = False  # some of its tasks carry expected content


@dataclass(frozen=True)
class FamilyChoice:
    family: Family
    score: float
    share: float  # of the prompts drawn for the skill; the shares sum to 1


@cache
def all_families() -> tuple[Family, ...]:
    """Every family (imported here, not at the top: the family modules import ``Task``)."""
    from .taskbank_advice import FAMILIES as ADVICE
    from .taskbank_code import FAMILIES as CODE
    from .taskbank_notes import FAMILIES as NOTES
    from .taskbank_questions import FAMILIES as QUESTIONS
    from .taskbank_software import FAMILIES as SOFTWARE
    from .taskbank_writing import FAMILIES as WRITING

    families = (*QUESTIONS, *ADVICE, *CODE, *SOFTWARE, *NOTES, *WRITING)
    assert len({f.name for f in families}) == len(families), "family names must be unique"
    return families


def _words(text: str) -> str:
    flat = unicodedata.normalize("NFKC", text).casefold()
    return " " + " ".join(re.findall(r"[a-z0-9]+", flat)) + " "


def trigger_text(document: SkillDocument, *, examples: bool = True) -> str:
    """The "Use when ..." sentences, the "When to use" section and (``examples``) the
    example prompts: the skill's own words for when it applies."""
    parts: list[str] = []
    in_section = False
    for _, line in document.body_lines():
        if _HEADING.match(line):
            in_section = bool(_TRIGGER_HEADING.match(line))
            continue
        if in_section or (examples and EXAMPLE_PROMPT.match(line)):
            parts.append(line)
    for sentence in _SENTENCE.split(f"{document.description}\n\n{document.body}"):
        if _USE_WHEN.search(sentence):
            parts.append(sentence)
    return "\n".join(parts)


def _matches(keyword: str, words: str) -> bool:
    """A keyword matches at a word start; one of 4+ letters also matches longer words
    ("report" matches "reports", "summar" matches "summarise" and "summary")."""
    key = " ".join(re.findall(r"[a-z0-9]+", keyword.casefold()))
    return f" {key}" in words and (len(key) >= 4 or f" {key} " in words)


def family_scores(document: SkillDocument) -> dict[str, float]:
    """Each family's score: per keyword, the weight of the best place the skill uses it."""
    regions = [
        (WEIGHT_NAME, _words(document.name.replace("-", " "))),
        (WEIGHT_TRIGGER, _words(trigger_text(document))),
        (WEIGHT_DESCRIPTION, _words(document.description)),
        (WEIGHT_BODY, _words(document.body)),
    ]
    scores: dict[str, float] = {}
    for family in all_families():
        scores[family.name] = sum(
            max((weight for weight, words in regions if _matches(kw, words)), default=0.0)
            for kw in family.keywords
        )
    return scores


def choose_families(document: SkillDocument, *, checkable_only: bool = False) -> list[FamilyChoice]:
    """The families that fit the skill, with their share of the prompts; general questions
    join when the fit is thin and stand alone when nothing fits. ``checkable_only``: of those,
    the ones whose answers a program can check (the checkable general questions if none)."""
    scores = family_scores(document)
    families = all_families()
    best = max(scores.values(), default=0.0)
    cutoff = max(MIN_SCORE, RELATIVE_CUTOFF * best)
    chosen = [(f, scores[f.name]) for f in families if scores[f.name] >= cutoff]
    if best < STRONG_SCORE:
        chosen += [(f, MIN_SCORE) for f in families if f.fallback and scores[f.name] < cutoff]
    if checkable_only:
        chosen = [(f, s) for f, s in chosen if f.checkable] or [
            (f, MIN_SCORE) for f in families if f.fallback and f.checkable
        ]
    total = sum(score * f.weight for f, score in chosen)
    return [FamilyChoice(f, score, score * f.weight / total) for f, score in chosen]


def in_near_miss_lane(key: str) -> bool:
    """Whether a checkable subject is kept for near-miss prompts (and so never templated),
    so a held-out near-miss prompt has no reworded twin in training."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % NEAR_MISS_LANE == 0
