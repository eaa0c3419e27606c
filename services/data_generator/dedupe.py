"""Exact and near-duplicate prompts, so that no prompt counts twice and none leaks.

Two prompts are the same when their normalized text is (``normalize``); they are near
duplicates when the Jaccard similarity of their shingle sets (words and adjacent word pairs)
reaches a threshold, 0.8 by default. Word pairs keep order in the picture: one changed word in
a twenty-word note leaves it a near duplicate (about 0.86), one changed word in a six-word
question does not ("What is the capital of France/Spain?": 0.69), and neither do two sums
with different operands.

Comparing every pair is quadratic, so ``deduplicate`` uses the prefix filter of set-similarity
joins (Chaudhuri et al. 2006; Xiao et al. 2008, "PPJoin"): order every shingle by how rare it is
across the input; two sets with Jaccard >= t must share one within the first
``|A| - ceil(t * |A|) + 1`` shingles of each. Only those rare prefix shingles are indexed, the few
candidates found are checked exactly, and the result is the same as the all-pairs answer.

Against the held-out set the test is stricter: a candidate is dropped when either text lies
(almost) inside the other, so "Reply in JSON: What is the capital of France?" cannot train on
the held-out "What is the capital of France?".
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Protocol, TypeVar

DEFAULT_THRESHOLD = 0.8
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


class HasText(Protocol):
    @property
    def text(self) -> str: ...


T = TypeVar("T", bound=HasText)
U = TypeVar("U", bound=HasText)


def _is_edge_noise(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] == "P"


def normalize(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed, punctuation stripped at both ends.

    >>> normalize("  What is  the CAPITAL of France?! ")
    'what is the capital of france'
    """
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return text[start:end]


def prompt_id(text: str) -> str:
    """``p-`` and 16 hex digits of the sha256 of the normalized text: one id per prompt,
    stable across runs, whatever its case, spacing or final punctuation."""
    return "p-" + hashlib.sha256(normalize(text).encode()).hexdigest()[:16]


def shingles(text: str) -> frozenset[str]:
    """The words and word pairs of the normalized text (punctuation dropped)."""
    words = _WORD.findall(normalize(text))
    if not words:
        return frozenset({normalize(text)})
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in pairwise(words))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' shingle sets, 1.0 for equal normalized texts."""
    if normalize(a) == normalize(b):
        return 1.0
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def containment(a: str, b: str) -> float:
    """How much of the smaller shingle set the other contains (1.0: one text lies inside)."""
    x, y = shingles(a), shingles(b)
    return len(x & y) / min(len(x), len(y))


def near_duplicate(a: str, b: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    return similarity(a, b) >= threshold


def containment_threshold(threshold: float) -> float:
    """How much of one text must lie in the other to count as a leak: halfway between the
    similarity threshold and 1 (0.9 for 0.8), so that "What is the capital of Australia?"
    does not leak "What is the capital of France?" (0.82 of it) but "Reply in JSON: What is
    the capital of France?" does (all of it)."""
    return (1 + threshold) / 2


def _needed(size: int, threshold: float) -> int:
    """The least overlap a set of ``size`` grams needs with a set it is ``threshold``-similar to."""
    return max(1, math.ceil(threshold * size - 1e-9))


class _Index:
    """The rare-first order of every shingle in one batch of texts (ties broken by text)."""

    def __init__(self, sets: Iterable[frozenset[str]]) -> None:
        frequency: Counter[str] = Counter()
        for grams in sets:
            frequency.update(grams)
        self.rank = {g: i for i, g in enumerate(sorted(frequency, key=lambda g: (frequency[g], g)))}

    def prefix(self, grams: frozenset[str], threshold: float) -> list[str]:
        ordered = sorted(grams, key=self.rank.__getitem__)
        return ordered[: len(ordered) - _needed(len(ordered), threshold) + 1]


def _leak_finder(
    index: _Index, against: list[frozenset[str]], threshold: float
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Postings of the held-out sets: their prefixes, and all their grams."""
    by_prefix: dict[str, list[int]] = defaultdict(list)
    by_gram: dict[str, list[int]] = defaultdict(list)
    for j, grams in enumerate(against):
        for gram in index.prefix(grams, threshold):
            by_prefix[gram].append(j)
        for gram in grams:
            by_gram[gram].append(j)
    return by_prefix, by_gram


def _leaks(
    grams: frozenset[str],
    index: _Index,
    against: list[frozenset[str]],
    postings: tuple[dict[str, list[int]], dict[str, list[int]]],
    threshold: float,
) -> int | None:
    """The first held-out set that ``grams`` is similar to, lies in or contains."""
    by_prefix, by_gram = postings
    candidates: set[int] = set()
    # Either bound implies an overlap >= t * (the smaller set), so the smaller set's t-prefix
    # holds a shingle of the other: the held-out prefix among ours, or our prefix among its.
    for gram in grams:
        candidates.update(by_prefix.get(gram, ()))
    for gram in index.prefix(grams, threshold):
        candidates.update(by_gram.get(gram, ()))
    inside = containment_threshold(threshold)
    for j in sorted(candidates):
        other = against[j]
        overlap = len(grams & other)
        if overlap >= _needed(min(len(grams), len(other)), inside) or _jaccard(grams, other) >= threshold:
            return j
    return None


def deduplicate(
    prompts: Sequence[T], *, against: Sequence[HasText] = (), threshold: float = DEFAULT_THRESHOLD
) -> tuple[list[T], int]:
    """Keep the first prompt of each near-duplicate group, and none that leaks into ``against``.

    Returns the kept prompts in their input order and how many were dropped. Idempotent:
    deduplicating the result again drops nothing.
    """
    sets = [shingles(p.text) for p in prompts]
    held = [shingles(p.text) for p in against]
    index = _Index([*sets, *held])
    postings = _leak_finder(index, held, threshold)
    kept: list[T] = []
    kept_sets: list[frozenset[str]] = []
    kept_by_prefix: dict[str, list[int]] = defaultdict(list)
    for prompt, grams in zip(prompts, sets, strict=True):
        if held and _leaks(grams, index, held, postings, threshold) is not None:
            continue
        prefix = index.prefix(grams, threshold)
        candidates = {k for gram in prefix for k in kept_by_prefix.get(gram, ())}
        low, high = threshold * len(grams) - 1e-9, len(grams) / threshold + 1e-9  # a similar set's size
        if any(
            low <= len(kept_sets[k]) <= high and _jaccard(grams, kept_sets[k]) >= threshold
            for k in candidates
        ):
            continue
        for gram in prefix:
            kept_by_prefix[gram].append(len(kept))
        kept.append(prompt)
        kept_sets.append(grams)
    return kept, len(prompts) - len(kept)


def find_leaks(
    prompts: Sequence[T], against: Sequence[U], *, threshold: float = DEFAULT_THRESHOLD
) -> list[tuple[T, U]]:
    """Each prompt that is (nearly) inside a held-out prompt or holds one, with that prompt."""
    held = [shingles(p.text) for p in against]
    if not held:
        return []
    sets = [shingles(p.text) for p in prompts]
    index = _Index([*sets, *held])
    postings = _leak_finder(index, held, threshold)
    found: list[tuple[T, U]] = []
    for prompt, grams in zip(prompts, sets, strict=True):
        j = _leaks(grams, index, held, postings, threshold)
        if j is not None:
            found.append((prompt, against[j]))
    return found


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    overlap = len(a & b)
    return overlap / (len(a) + len(b) - overlap)
