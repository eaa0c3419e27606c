"""Lead-ins: a sentence ending in ":" whose list or code block says what the reply holds.

"The report has exactly these four sections, in this order:" followed by a fenced block of
``## Summary`` ... lines, or by a list whose items are headings (``- `## Summary` ``), becomes
a ``markdown_headings`` check: every heading shown, at the level its ``#`` give, in order when
the sentence says so. The sentence must name sections, headings or headers, hold
unconditionally, and neither negate them nor make them optional; a stated number ("four sections") must match what is shown; every
list item must be a heading (an item may explain it after " - " or ":"), and a block must show
at least one.
"""

from __future__ import annotations

import re

from skill_adapter.contracts import Check, MarkdownHeadingsCheck

from .markdown import atx_heading
from .markdown_patterns import heading_check
from .vocabulary import NUM, conditional, mask_quotes, names_part, negated, number

_NAMES = re.compile(r"\b(?:sections?|headings?|headers?)\b", re.IGNORECASE)
_COUNT = re.compile(rf"\b(?P<n>{NUM})\s+(?:\w+\s+)?(?:sections?|headings?|headers?)\b", re.IGNORECASE)
_OPTIONAL = re.compile(
    r"\b(?:optional|optionally|may|can|could|might|suggested|possible|example|examples|such\s+as|like|e\.g)\b",
    re.IGNORECASE,
)
_PARTS = frozenset({"section", "sections", "heading", "headings", "header", "headers"})
_ITEM = re.compile(
    r"^(?:`(?P<code>#{1,6}[ \t]+[^`]+)`|(?P<bare>#{1,6}[ \t]+.+?))(?:\s+[-\u2013\u2014]\s+.*|:\s.*)?$"
)


def _listed_heading(item: str) -> str | None:
    found = _ITEM.match(item.strip())
    if found is None:
        return None
    text = (found.group("code") or found.group("bare")).strip()
    parsed = atx_heading(text)
    return None if parsed is None or not parsed[1] else "#" * parsed[0] + " " + parsed[1]


def _shown_headings(shown: str) -> list[str]:
    found = (atx_heading(line) for line in shown.splitlines())
    return ["#" * level + " " + text for level, text in (h for h in found if h) if text]


def compile_lead_in(sentence: str, shown: str | None = None, listed: tuple[str, ...] = ()) -> list[Check]:
    """The check a lead-in sentence and the block (``shown``) or list items after it mean, if any."""
    masked = mask_quotes(sentence)
    named = _NAMES.search(masked)
    if (
        not sentence.endswith(":")
        or named is None
        or conditional(sentence)
        or negated(sentence, named.start())
        or _OPTIONAL.search(masked)
        or names_part(sentence, _PARTS)
    ):
        return []
    if shown is not None:
        items = _shown_headings(shown)
    else:
        parsed = [_listed_heading(item) for item in listed]
        items = [] if None in parsed else [p for p in parsed if p]
    stated = _COUNT.search(masked)
    if not items or (stated and number(stated.group("n")) != len(items)):
        return []
    return [heading_check(items, sentence)]


LEAD_IN_EXAMPLES: tuple[tuple[str, str | None, tuple[str, ...], Check], ...] = (
    (
        "The report has exactly these four sections, in this order:",
        "## Summary\n- ...\n## Progress\n- ...\n## Risks\n- ...\n## Next steps\n- ...",
        (),
        MarkdownHeadingsCheck(
            headings=["Summary", "Progress", "Risks", "Next steps"], level=2, in_order=True
        ),
    ),
    (
        "Use these sections:",
        None,
        ("`## Context` - what prompted the change", "`## Decision`", "## Consequences: what follows"),
        MarkdownHeadingsCheck(headings=["Context", "Decision", "Consequences"], level=2),
    ),
)
"""``(sentence, block shown after it, list items after it, check)``; the tests run each."""

LEAD_IN_NOT_COMPILED: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("Respond with exactly this shape:", '{"answer": "..."}', ()),
    ("The report has these three sections:", "## Summary\n## Risks", ()),
    ("You may add these optional sections:", None, ("`## Notes`",)),
    ("Never use these headings:", None, ("`## Summary`",)),
    ("Use these sections:", None, ("`## Summary`", "a short overview")),
    ("Use these sections:", None, ("Summary", "Risks")),
    ("The report has these sections, in this order.", "## Summary", ()),
    ("When the change is small, use these sections:", None, ("`## Summary`",)),
)
"""Lead-ins that must compile to nothing (a judge reads them, with the block)."""
