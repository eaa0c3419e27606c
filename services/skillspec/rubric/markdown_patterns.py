"""Patterns about Markdown structure: code fences and blocks, headings, bullet and numbered lists.

Presence patterns (a code block, a heading, "use a bullet list") fire even when the sentence
names a part of the reply: what a part contains, the reply contains. A list count with a
maximum ("at most 3 bullets per section") does not.
"""

from __future__ import annotations

import re

from skill_adapter.contracts import (
    BulletListCheck,
    Check,
    CodeBlockCheck,
    MarkdownHeadingsCheck,
    NotContainsCheck,
    NumberedListCheck,
)

from .markdown import normalize_language
from .vocabulary import (
    FENCE,
    NUM,
    QLIST,
    SEP,
    Builder,
    count,
    names_part,
    negated,
    pattern,
    quoted,
)

_TITLE = r"(?-i:[A-Z])[\w'&-]*(?:\s+(?:(?-i:[A-Z])[\w'&-]*|of|to|for))*"
_ITEMS = r"[^.;!?`\"\u201c\u2018]+?(?=\s*(?:[.;!]|,?\s*in\s+\w+(?:\s+\w+)?\s+order\b|$))"
_TITLE_LIST = rf"{_TITLE}(?:{SEP}{_TITLE})*(?=\s*(?:[.;!)]|,?\s*in\s+\w+(?:\s+\w+)?\s+order\b|$))"
_LEAD = (
    r"(?:use|using|uses|format\w*|write|writes|respond|reply|answer|present|list|summari[sz]e|give|provide|"
    r"return|output|structure|in|as|with|is|are|contains?|includes?|has|have|into)"
)
_LANGUAGES = (
    r"python|bash|sh|shell|zsh|javascript|js|typescript|ts|jsx|tsx|json|yaml|yml|toml|sql|go|rust|java|"
    r"kotlin|swift|c|cpp|c\+\+|csharp|c#|ruby|php|html|css|xml|markdown|md|diff|dockerfile|powershell|"
    r"r|scala|lua|perl|haskell|text|plaintext|console|hcl|graphql"
)
_LIST_PARTS = frozenset({"bullet", "bullets", "item", "items", "step", "steps"})
_ARTICLE = r"(?:(?:an?|any|the)\s+)?"
_OTHER_THINGS = (
    rf"(?:{_ARTICLE}[\w'-]+(?:\s+[\w'-]+)?(?:\s*,\s*(?:(?:and|or|nor)\s+)?|\s+(?:and|or|nor)\s+)){{0,8}}?"
)
IN_ORDER = re.compile(
    r"\bin\s+(?:this|that|the\s+same|the\s+following)?\s*order\b|\bfollowed\s+by\b", re.IGNORECASE
)


def heading_check(items: list[str], sentence: str) -> MarkdownHeadingsCheck:
    """Headings named ``items`` (``## Summary`` or ``Summary``), in order if the sentence says so."""
    levels = {len(i) - len(i.lstrip("#")) for i in items}
    level = levels.pop() if len(levels) == 1 else 0
    names = [i.lstrip("#").strip() for i in items]
    ordered = bool(IN_ORDER.search(sentence)) and len(names) > 1
    return MarkdownHeadingsCheck(headings=names, level=level or None, in_order=ordered)


def _headings(match: re.Match[str], sentence: str) -> list[Check]:
    raw = match.group("list") or match.groupdict().get("list2") or ""
    items = quoted(raw) or [i.strip() for i in re.split(SEP, raw) if i.strip()]
    if not items or any(len(i.split()) > 6 or re.match(r"(?:a|an|the)\b", i, re.I) for i in items):
        return []
    return [heading_check(items, sentence)]


def _code_block(match: re.Match[str], sentence: str) -> list[Check]:
    language = match.group("lang1") or match.group("lang2") or match.group("lang3")
    counted = count(sentence, r"code\s*blocks?|blocks?")
    return [
        CodeBlockCheck(
            language=normalize_language(language) if language else None,
            min_blocks=counted[0] if counted and counted[0] else 1,
        )
    ]


def _no_fence(match: re.Match[str], sentence: str) -> list[Check]:
    return [NotContainsCheck(text=FENCE)]


def _list(kind: type[BulletListCheck | NumberedListCheck], units: str) -> Builder:
    def build(match: re.Match[str], sentence: str) -> list[Check]:
        is_negated = negated(sentence, match.start())
        counted = count(sentence, units)
        if counted is None:
            low, high = (0, 0) if is_negated else (1, None)
        else:
            low, high = counted[0] or (0 if is_negated else 1), counted[1]
        if high is not None and (low > high or names_part(sentence, _LIST_PARTS)):
            return []
        return [kind(min_items=low, max_items=high)]

    return build


NO_CODE_FENCE = pattern(
    "no-code-fence",
    "fence",
    r"\b(?:no|without|(?:never|do\s+not|don't|must\s+not|should\s+not)\s+(?:use|add|include|contains?|"
    r"wrap\s+(?:\w+\s+){0,3}?in|put\s+(?:\w+\s+){0,3}?in))\s+"
    rf"{_OTHER_THINGS}(?:any\s+|a\s+)?(?:markdown\s+)?"
    r"(?:code\s*fences?|code\s*blocks?|fenced\s+(?:code\s+)?blocks?|triple\s+backticks)\b",
    _no_fence,
    [
        ("The output contains no code fences", NotContainsCheck(text=FENCE)),
        ("Never wrap the JSON in code fences or backticks.", NotContainsCheck(text=FENCE)),
        ("Reply with plain text, without code blocks.", NotContainsCheck(text=FENCE)),
        (
            "Never add an introduction, explanation, quotes or code fences around it.",
            NotContainsCheck(text=FENCE),
        ),
        ("Do not use headings, tables or code blocks.", NotContainsCheck(text=FENCE)),
    ],
    near_misses=(
        "Never add an explanation around the code block.",
        "Never add quotes or code fences around the summary.",
        "Explain the code blocks, and never add quotes.",
    ),
    negatable=True,
)

CODE_BLOCK = pattern(
    "code-block",
    "code",
    r"\b(?:in|inside|within|into|use|using|uses|include|includes|contains?|with|as|put|wrap\w*)\s+"
    rf"(?:(?:a|an|one|the|your|its|single|separate|fenced|markdown|at\s+least|exactly|{NUM})\s+)*"
    r"(?:(?:```|~~~)\s*(?P<lang1>[\w+#.-]+)?(?:\s*(?:code\s*)?(?:blocks?|fences?)\b)?"
    rf"|(?:`(?P<lang2>[\w+#.-]+)`\s+|(?P<lang3>{_LANGUAGES})\s+)?(?:fenced\s+)?code\s*(?:blocks?|fences?)\b"
    r"|fenced\s+blocks?\b|triple[- ]backticks\b)",
    _code_block,
    [
        ("Put the final script in a ```python code block.", CodeBlockCheck(language="python")),
        ("Always include a bash code block with the command.", CodeBlockCheck(language="bash")),
        ("Wrap the code in a fenced code block.", CodeBlockCheck()),
        ("Include at least 2 code blocks.", CodeBlockCheck(min_blocks=2)),
    ],
    whole_reply=False,
)

HEADINGS_QUOTED = pattern(
    "headings-quoted",
    "headings",
    r"\b(?:include|add|have|has|contains?|with|use|uses|needs?|start\s+with|end\s+with)\w*\s+"
    rf"(?:(?:a|an|the)\s+)?(?P<list>{QLIST})\s+(?:sections?|headings?|headers?)\b",
    _headings,
    [
        ("Include a `## Summary` section.", MarkdownHeadingsCheck(headings=["Summary"], level=2)),
        ("Contains a 'Risks' section", MarkdownHeadingsCheck(headings=["Risks"])),
        (
            "Include a `## Summary` and a `## Risks` section.",
            MarkdownHeadingsCheck(headings=["Summary", "Risks"], level=2),
        ),
    ],
    whole_reply=False,
)

HEADINGS_TITLED = pattern(
    "headings-titled",
    "headings",
    rf"\b(?:sections?|headings?|headers?)\s+(?:called|named|titled|entitled)\s+(?P<list>{QLIST}|{_TITLE_LIST})",
    _headings,
    [('Add a section titled "Next Steps".', MarkdownHeadingsCheck(headings=["Next Steps"]))],
    whole_reply=False,
)

HEADINGS_LISTED = pattern(
    "headings-listed",
    "headings",
    r"\b(?:sections?|headings?|headers?)(?:\s*\([^)]*\))?"
    rf"(?:\s*:\s*(?P<list>{QLIST}|{_ITEMS})|\s+(?!called|named|titled)(?P<list2>{QLIST}|{_TITLE_LIST}))",
    _headings,
    [
        (
            "Structure the answer with these sections: Summary, Risks and Next steps.",
            MarkdownHeadingsCheck(headings=["Summary", "Risks", "Next steps"]),
        ),
        (
            "Have the sections Background and Proposal.",
            MarkdownHeadingsCheck(headings=["Background", "Proposal"]),
        ),
        (
            "Use the headings `## Context`, `## Decision` and `## Consequences`, in this order.",
            MarkdownHeadingsCheck(headings=["Context", "Decision", "Consequences"], level=2, in_order=True),
        ),
    ],
    whole_reply=False,
)

HEADINGS_TITLE_CASE = pattern(
    "headings-title-case",
    "headings",
    r"\b(?:include|add|have|has|contains?|with|needs?|end\s+with|start\s+with)\w*\s+(?:a|an|the)\s+"
    rf"(?P<list>{_TITLE})\s+(?:section|heading|header)\b",
    _headings,
    [("Always end with a Sources section.", MarkdownHeadingsCheck(headings=["Sources"]))],
    whole_reply=False,
)

BULLET_LIST = pattern(
    "bullet-list",
    "bullets",
    rf"\b{_LEAD}\b(?:\s+[\w'-]+){{0,4}}?\s+(?:bullet(?:ed)?[\s-]*(?:lists?|points?)|bullets)\b",
    _list(BulletListCheck, r"bullet\s*points?|bullets?|points|items?"),
    [
        ("Use a bullet list.", BulletListCheck()),
        ("Summarize in 3-5 bullet points.", BulletListCheck(min_items=3, max_items=5)),
        ("Use bullet points, at most 5 bullets.", BulletListCheck(min_items=1, max_items=5)),
        ("Use bullet points for the key findings.", BulletListCheck()),
        ("Never use bullet points.", BulletListCheck(min_items=0, max_items=0)),
    ],
    whole_reply=False,
    negatable=True,
)

NUMBERED_LIST = pattern(
    "numbered-list",
    "numbered",
    rf"\b{_LEAD}\b(?:\s+[\w'-]+){{0,4}}?\s+(?:(?:numbered|ordered)\s+(?:lists?|steps?|items?)|numbered\b)",
    _list(NumberedListCheck, r"steps?|items?|points"),
    [
        ("Present the steps as a numbered list.", NumberedListCheck()),
        ("Answer with a numbered list of at most 7 items.", NumberedListCheck(min_items=1, max_items=7)),
        ("Do not use numbered lists.", NumberedListCheck(min_items=0, max_items=0)),
    ],
    whole_reply=False,
    negatable=True,
)
