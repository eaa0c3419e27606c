"""The SKILL.md body as sentences, each with its line and what it is under or introduces.

Fenced code, tables, headings and HTML comments are not sentences, nor is anything under a
heading that is not about the reply ("Examples", "When to use", "Overview", "Background",
"References"...). A sentence under a conditional heading or lead-in ("When the user asks for a
refactor:") carries that condition. A sentence ending in ":" carries what it introduces: the
fenced block right after it (``shown``) or the items of the list right after it (``listed``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace

from ..document import SkillDocument
from .markdown import atx_heading
from .sentences import sentence_spans

_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_RULES = re.compile(
    r"(?:examples?\b.*|samples?\b.*|when\s+(?:not\s+)?to\s+use\b.*|(?:overview|about(?:\s+this\s+skill)?|"
    r"background|purpose|references?|resources|see\s+also|files)\s*:?)$",
    re.IGNORECASE,
)
CONDITION = re.compile(r"^(?:if|when|whenever|unless|for|in\s+case|once|after|before|while)\b", re.IGNORECASE)


@dataclass(frozen=True)
class BodySentence:
    """A sentence of the SKILL.md body: its line, its text and the condition it is under."""

    line: int
    text: str
    condition: str | None = None
    shown: str | None = None  # the fenced block right after a sentence ending in ":"
    listed: tuple[str, ...] = ()  # the items of the list right after a sentence ending in ":"


class _BodyReader:
    """Reads the body line by line into blocks (paragraphs, list items), then sentences."""

    def __init__(self) -> None:
        self.sentences: list[BodySentence] = []
        self.block: list[tuple[int, str]] = []
        self.is_list = False
        self.conditions: dict[int, str] = {}  # the conditional headings the text is under, by level
        self.lead_in: str | None = None  # a conditional paragraph ending in ":" before a list
        self.skip_level = 0  # the level of an "Examples" heading being skipped
        self.fence: str | None = None
        self.in_comment = False
        self.colon = False  # the last sentence read ends in ":" and nothing came since
        self.shown_to: int | None = None  # the sentence the open fence is shown to
        self.listed_to: int | None = None  # the sentence the current list is listed to
        self.code: list[str] = []

    def _attach(self, index: int, **fields: object) -> None:
        self.sentences[index] = replace(self.sentences[index], **fields)  # type: ignore[arg-type]

    def flush(self) -> None:
        if not self.block:
            return
        under = [self.conditions[level] for level in sorted(self.conditions)]
        if self.is_list and self.lead_in:
            under.append(self.lead_in)
        condition = "; ".join(under) or None
        if self.is_list and self.listed_to is not None:
            item = " ".join(text for _, text in self.block)
            self._attach(self.listed_to, listed=(*self.sentences[self.listed_to].listed, item))
        sentences = _split(self.block)
        self.block = []
        if not self.is_list:
            last = sentences[-1].text if sentences else ""
            self.lead_in = last.rstrip(":") if last.endswith(":") and CONDITION.match(last) else None
        self.sentences.extend(BodySentence(s.line, s.text, condition) for s in sentences)
        self.colon = bool(sentences) and sentences[-1].text.endswith(":")

    def heading_line(self, level: int, title: str) -> None:
        self.flush()
        self.colon, self.listed_to = False, None
        if self.skip_level and level > self.skip_level:
            return
        self.skip_level = level if _NOT_RULES.match(title) else 0
        self.conditions = {k: v for k, v in self.conditions.items() if k < level}
        if CONDITION.match(title):
            self.conditions[level] = title
        self.lead_in = None

    def read(self, line_no: int, raw: str) -> None:
        if self.fence is not None:
            if raw.strip().startswith(self.fence):
                self.fence = None
                if self.shown_to is not None:
                    self._attach(self.shown_to, shown="\n".join(self.code))
                    self.shown_to = None
            elif self.shown_to is not None:
                self.code.append(raw)
            return
        if self.in_comment:
            self.in_comment = "-->" not in raw
            return
        raw = re.sub(r"<!--.*?-->", "", raw)
        if "<!--" in raw:
            raw, self.in_comment = raw[: raw.index("<!--")], True
        raw = re.sub(r"^\s*(?:>\s?)+", "", raw)  # blockquotes read as their content
        if opened := _FENCE.match(raw):
            self.flush()
            self.fence, self.listed_to = opened.group(1), None
            if self.colon and not self.skip_level:
                self.shown_to, self.code = len(self.sentences) - 1, []
            self.colon = False
        elif heading := atx_heading(raw):
            self.heading_line(*heading)
        elif self.skip_level:
            return
        elif not raw.strip():
            self.flush()
        elif raw.lstrip().startswith("|"):
            self.flush()
            self.colon, self.listed_to = False, None
        elif item := _LIST_ITEM.match(raw):
            self.flush()
            if not self.is_list:
                self.listed_to = len(self.sentences) - 1 if self.colon else None
            self.is_list = True
            self.block.append((line_no, raw[item.end() :].strip()))
        else:
            if not self.block:
                self.is_list, self.listed_to = False, None
            self.block.append((line_no, raw.strip()))


def body_sentences(doc: SkillDocument) -> list[BodySentence]:
    """The body's prose sentences and list items, with their SKILL.md line numbers."""
    reader = _BodyReader()
    for line_no, raw in doc.body_lines():
        reader.read(line_no, raw)
    reader.flush()
    return reader.sentences


def _split(block: list[tuple[int, str]]) -> list[BodySentence]:
    """Split a paragraph or list item into sentences, each with the line it starts on."""
    starts: list[int] = []
    joined = ""
    for _, text in block:
        starts.append(len(joined))
        joined += text + " "
    masked = re.sub(r"`[^`]*`", lambda m: "`" + "x" * (len(m.group()) - 2) + "`", joined)
    return [
        BodySentence(block[bisect.bisect_right(starts, start) - 1][0], joined[start:end])
        for start, end in sentence_spans(masked)
    ]
