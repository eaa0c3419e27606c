"""Asking a teacher for a paraphrase of a prompt, and telling a paraphrase from garbage.

Paraphrases widen the wording a skill is taught on. Teachers (small ones especially) answer
the request instead of rewording it, add "Sure, here is...", return a numbered list of options,
or drop the numbers that made the prompt checkable; ``parse_paraphrase`` refuses all of those,
so only a usable paraphrase reaches the dataset.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .dedupe import normalize

if TYPE_CHECKING:
    from .prompts import Prompt

MAX_CHARS = 4000
_FENCED = re.compile(r"^```[\w-]*\n(.*?)\n?```$", re.S)
_LABEL = re.compile(
    r"^(?:rewritten|paraphrased|reworded|rephrased|new)?\s*(?:request|prompt|version|paraphrase)\s*:\s*", re.I
)
_CHATTER = re.compile(
    r"^(?:sure|certainly|of course|absolutely|okay|ok|great|no problem)\b[\s,.!:]"
    r"|^here(?:'s| is| are)\s+(?:a |an |the |your |my |some )?(?:\w+ )?(?:rewritten|paraphrased|rephrased|reworded|rewording|version|alternative|paraphrase|options?)\b"
    r"|^(?:i'm sorry|i am sorry|sorry,|i cannot|i can't|as an ai|i'd be happy|i would be happy)",
    re.I,
)
_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022]|option \d+:?)\s+", re.I)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_CODE_TOKEN = re.compile(r"`[^`]+`|--[\w-]+|\b\w+_\w+\b|\b[a-z]+[A-Z]\w*\b|\b\w+\.\w{1,4}\b|/[\w./-]+")


def paraphrase_instruction(prompt: Prompt) -> str:
    """The user message that asks a teacher for one paraphrase of ``prompt``."""
    return (
        "Rewrite the request below so that it asks for exactly the same thing in different words, "
        "the way another person might type it.\n"
        "- Keep every name, number, date, file name, identifier, code snippet and quoted text exactly as written.\n"
        "- Do not answer the request, and do not add or drop any detail.\n"
        "- Keep roughly the same length and tone.\n"
        "Reply with only the rewritten request: no introduction, no quotes, no list of options.\n\n"
        f"Request:\n<<<\n{prompt.text}\n>>>"
    )


def _clean(text: str) -> str:
    text = text.strip()
    if fenced := _FENCED.match(text):
        text = fenced.group(1).strip()
    text = _LABEL.sub("", text).strip()
    text = text.removeprefix("<<<").removesuffix(">>>").strip()
    for open_, close in (('"', '"'), ("\u201c", "\u201d"), ("'", "'")):
        if len(text) > 1 and text.startswith(open_) and text.endswith(close) and close not in text[1:-1]:
            text = text[1:-1].strip()
    return text


def _protected(text: str) -> set[str]:
    """What a faithful paraphrase keeps verbatim: numbers and code-like tokens."""
    return set(_NUMBER.findall(text)) | set(_CODE_TOKEN.findall(text))


def parse_paraphrase(text: str, *, original: Prompt | str | None = None) -> str | None:
    """The paraphrase in a teacher's reply, or ``None`` when the reply is not one.

    Refused: empty or over-long replies, chatter ("Sure, here is..."), several lines or a
    list where the original was one line, and, given the ``original``: the same text again,
    a very different length, or lost numbers and identifiers.
    """
    text = _clean(text)
    if not text or len(text) > MAX_CHARS or _CHATTER.search(text):
        return None
    source = original if isinstance(original, str) or original is None else original.text
    lines = [line for line in text.splitlines() if line.strip()]
    multi_line_source = source is not None and "\n" in source.strip()
    if len(lines) > 1 and not multi_line_source:
        return None
    if sum(bool(_LIST_ITEM.match(line)) for line in lines) >= 2 and not (
        source and any(_LIST_ITEM.match(line) for line in source.splitlines())
    ):
        return None
    if source is None:
        return text
    if normalize(text) == normalize(source):
        return None
    if not 0.3 * len(source) - 10 <= len(text) <= 2.5 * len(source) + 40:
        return None
    if not _protected(source) <= _protected(text) | _protected(text.replace(",", "")):
        return None
    return text
