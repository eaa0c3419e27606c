"""Hidden text: characters and comments a person reading a skill does not see, but a model does.

* Unicode tag characters (U+E0000-U+E007F) can spell out whole instructions invisibly: always
  an error, and the report shows what they spell.
* Bidirectional controls reorder what is displayed (the "Trojan Source" trick).
* Zero-width characters hide inside words and names.
* HTML comments are invisible in rendered Markdown but read by the model.

Strict mode rejects all of them; lenient mode rejects tag characters and warns about the rest.
"""

from __future__ import annotations

import bisect
import re

from skill_adapter.contracts import Diagnostic

from .diagnostics import Code, error, warning

BIDI = {
    "\u061c": "ARABIC LETTER MARK",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}
ZERO_WIDTH = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u00ad": "SOFT HYPHEN",
}
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)


class _Lines:
    """Line numbers of offsets in one text, by binary search over line starts (linear overall)."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def of(self, index: int) -> int:
        return bisect.bisect_right(self._starts, index)


_BIDI_CHARS = re.compile("[" + "".join(BIDI) + "]")
_ZERO_WIDTH_CHARS = re.compile("[" + "".join(ZERO_WIDTH) + "]")


def scan(text: str, file: str, *, strict: bool, line_offset: int = 0) -> list[Diagnostic]:
    """Every hidden-text finding in ``text`` (a file's content, LF line endings)."""
    found: list[Diagnostic] = []
    soft = error if strict else warning
    lines = _Lines(text)

    for match in _TAGS.finditer(text):
        spelled = "".join(chr(ord(c) - 0xE0000) for c in match.group() if 0x20 <= ord(c) - 0xE0000 < 0x7F)
        found.append(
            error(
                Code.HIDDEN_TAG_CHARACTERS,
                f"{len(match.group())} invisible Unicode tag characters"
                + (f" spelling {spelled[:200]!r}" if spelled else ""),
                file,
                lines.of(match.start()) + line_offset,
            )
        )
    for pattern, table, code in (
        (_BIDI_CHARS, BIDI, Code.HIDDEN_BIDI),
        (_ZERO_WIDTH_CHARS, ZERO_WIDTH, Code.HIDDEN_ZERO_WIDTH),
    ):
        reported: set[int] = set()
        for match in pattern.finditer(text):
            line = lines.of(match.start()) + line_offset
            if line in reported:
                continue
            reported.add(line)
            char = match.group()
            found.append(soft(code, f"invisible character U+{ord(char):04X} {table[char]}", file, line))
    for match in _COMMENT.finditer(text):
        content = " ".join(match.group(1).split())
        if content:
            found.append(
                soft(
                    Code.HIDDEN_HTML_COMMENT,
                    f"HTML comment, invisible when rendered but read by a model: {content[:200]!r}",
                    file,
                    lines.of(match.start()) + line_offset,
                )
            )
    return found
