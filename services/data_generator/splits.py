"""Train / validation / held-out, deterministic from a seed, with no leakage.

Held out: the eval cases, the skill's held-out file, and a share of the near-miss prompts (so
the evaluator can check that the adapter still gets content right on prompts it never saw).
Every other candidate that is a near duplicate of a held-out prompt, or contains one, is
dropped; the rest is deduplicated and split.

Which split a prompt goes to depends only on the seed and the prompt's id (a sha256 rank),
never on ``random`` state or on where it stands in the list: the same prompts and seed give the
same split, a new prompt does not reshuffle the others, and another seed gives another split.
(Order matters in one place only: of two near duplicates the first is kept, so list the
prompts with a reference, the body examples, first.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, computed_field

from .dedupe import DEFAULT_THRESHOLD, deduplicate, find_leaks
from .prompts import Prompt, distinct


class LeakError(AssertionError):
    """A training or validation prompt is a near duplicate of a held-out one."""


class Splits(BaseModel):
    model_config = ConfigDict(frozen=True)

    seed: int
    train: list[Prompt]
    validation: list[Prompt]
    heldout: list[Prompt]
    dropped: int  # candidates that are (near) duplicates of each other or of a held-out prompt

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "heldout": len(self.heldout),
            "heldout_near_miss": sum(p.near_miss for p in self.heldout),
            "train_near_miss": sum(p.near_miss for p in self.train),
            "dropped": self.dropped,
        }


def rank(seed: int, purpose: str, prompt: Prompt) -> float:
    """A stable pseudo-random number in [0, 1) for ``prompt``: sha256 of seed, purpose and id."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{prompt.id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _picked(prompts: Sequence[Prompt], share: float, seed: int, purpose: str) -> set[str]:
    """The ids of the prompts whose rank falls below ``share``: each prompt is picked or not
    on its own, so adding or dropping another prompt never moves it. (A handful of prompts
    that draws none still gives up its lowest-ranked one, so a positive share is never 0.)"""
    picked = {p.id for p in prompts if rank(seed, purpose, p) < share}
    if not picked and share > 0 and len(prompts) >= 2:
        picked = {min(prompts, key=lambda p: rank(seed, purpose, p)).id}
    return picked


def split(
    heldout: Sequence[Prompt],
    candidates: Sequence[Prompt],
    *,
    seed: int,
    validation_share: float = 0.1,
    near_miss_heldout_share: float = 0.5,
    threshold: float = DEFAULT_THRESHOLD,
) -> Splits:
    """Split ``candidates`` into train and validation and add a share of the near-miss ones to
    ``heldout``. Raises ``LeakError`` if a kept prompt were still near a held-out one."""
    if not 0 <= validation_share < 1 or not 0 <= near_miss_heldout_share <= 1:
        raise ValueError("shares must lie in [0, 1) for validation and [0, 1] for near-miss held out")
    held = distinct(heldout)
    held_ids = {p.id for p in held}
    near_miss = [p for p in candidates if p.near_miss and p.id not in held_ids]
    chosen = _picked(distinct(near_miss), near_miss_heldout_share, seed, "heldout")
    extra, _ = deduplicate([p for p in near_miss if p.id in chosen], against=held, threshold=threshold)
    held += extra
    moved = {p.id for p in extra}
    rest = [p for p in candidates if p.id not in moved]
    kept, _ = deduplicate(rest, against=held, threshold=threshold)
    validation_ids = _picked(kept, validation_share, seed, "validation")
    validation = [p for p in kept if p.id in validation_ids]
    train = sorted((p for p in kept if p.id not in validation_ids), key=lambda p: rank(seed, "order", p))
    leaks = find_leaks([*train, *validation], held, threshold=threshold)
    if leaks:
        prompt, other = leaks[0]
        raise LeakError(
            f"{prompt.id} ({prompt.text[:60]!r}) is near held-out {other.id} ({other.text[:60]!r})"
        )
    return Splits(
        seed=seed,
        train=train,
        validation=validation,
        heldout=held,
        dropped=len(candidates) - len(kept) - len(extra),
    )
