"""Sentences: where they end, how a skill's sentence is cleaned up, and which ones are rules.

``sentence_spans`` splits a reply (for length checks) or a paragraph of a SKILL.md (for the
compiler). ``normalize`` removes Markdown decoration from a skill sentence. A *constraint
sentence* asks something of the model: it has a modal or imperative marker (always, never,
must, should, do not, only, respond/reply/answer..., use, include, start/begin with, end with,
keep, limit, avoid...), a quantity ("at most 100 words"), or says what the reply is ("The
output is valid JSON", as eval assertions do). ``is_constraint_sentence`` finds them.
"""

from __future__ import annotations

import re

from .vocabulary import REPLY, mask_quotes

_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n[ \t]*\n")
_ABBREVIATIONS = frozenset("e.g i.e vs cf viz al approx mr mrs ms dr prof sr jr fig eq ca resp".split())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text``.

    A sentence ends at ``.``, ``!`` or ``?`` (repeated, and followed by closing quotes or
    brackets, as in ``?!`` or ``.)``) that is followed by whitespace or the end of the text, or
    at a blank line. A period does not end a sentence inside a number (``3.14``) or after a
    common abbreviation (e.g., i.e., vs., cf., Dr., Mr., ...); ``etc.`` ends one only before a
    capital letter. Spans without a letter or digit are dropped.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        mark = match.group()
        if (
            mark.startswith(".")
            and mark.rstrip("\"'\u201d\u2019)]") == "."
            and match.end() < len(text.rstrip())
        ):
            tokens = text[max(start, match.start() - 40) : match.start()].split()
            before = tokens[-1].lstrip("([{\"'\u201c\u2018").lower() if tokens else ""
            if before in _ABBREVIATIONS:
                continue
            following = text[match.end() :].lstrip()[:1]
            if before == "etc" and not following.isupper():
                continue
        _add_span(text, start, match.end(), spans)
        start = match.end()
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    if any(ch.isalnum() for ch in piece):
        stripped_start = start + (len(piece) - len(piece.lstrip()))
        spans.append((stripped_start, start + len(piece.rstrip())))


def normalize(sentence: str) -> str:
    """The sentence without list marker, blockquote, bold or italic markers, curly apostrophes or extra spaces."""
    text = re.sub(r"^\s*(?:>\s*)*(?:(?:[-*+]|\d{1,9}[.)])\s+)?", "", sentence)
    text = re.sub(r"(?<=\w)\u2019(?=\w)", "'", text)
    pieces = re.split(r"(`[^`]*`)", text)  # emphasis is removed outside code spans only
    for i in range(0, len(pieces), 2):
        pieces[i] = re.sub(r"\*\*|__", "", pieces[i])
        pieces[i] = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", pieces[i])
    return " ".join("".join(pieces).split())


_MARKERS = re.compile(
    r"\b(?:always|never|must|mustn't|should|shouldn't|shall|do\s+not|don't|does\s+not|doesn't|avoid|make\s+sure|"
    r"ensure|required?|only|exactly|no\s+more\s+than|at\s+most|at\s+least|fewer\s+than|less\s+than|"
    r"no\s+longer\s+than|under\s+\d|between\s+\d+\s+and\s+\d+)\b",
    re.IGNORECASE,
)
_IMPERATIVE = re.compile(
    r"^(?:please\s+)?(?:respond|reply|answer|return|output|write|format|use|include|start|begin|end|finish|keep|"
    r"limit|avoid|add|put|wrap|give|provide|list|present|structure|organi[sz]e|summari[sz]e|mention|cite|state|"
    r"sign|close|conclude|prefix|never|always|only|do|don't|make|ensure|be|stay|refuse|ask|explain|prefer|"
    r"follow|name|label|number|quote|reference|separate|group|sort|show|describe)\b",
    re.IGNORECASE,
)
_DECLARATIVE = re.compile(
    rf"^(?:the|your|each|every|all|its)\s+(?:\w+\s+){{0,2}}?{REPLY}s?\s+(?:is|are|must|should|has|have|contains?|"
    r"starts?|begins?|ends?|includes?|uses?|matches|never|always|will|does)\b",
    re.IGNORECASE,
)
_NOT_A_RULE = re.compile(r"\bthis\s+skill\b|^(?:see|read|refer\s+to|for\s+example|e\.g\.)\b", re.IGNORECASE)


def may_be_rule(sentence: str) -> bool:
    """False for what cannot be a rule: a question, a pointer ("See ..."), words about "this skill"."""
    text = normalize(sentence)
    return bool(text) and not text.endswith("?") and not _NOT_A_RULE.search(text)


def is_constraint_sentence(sentence: str) -> bool:
    """Whether ``sentence`` asks something of the model (see the module docs)."""
    text = normalize(sentence)
    if not may_be_rule(text):
        return False
    masked = mask_quotes(text)
    clauses = [c.strip() for c in re.split(r"[,;:]", masked)]
    return bool(
        _MARKERS.search(masked) or _DECLARATIVE.match(text) or any(_IMPERATIVE.match(c) for c in clauses if c)
    )
