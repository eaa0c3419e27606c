"""Markdown in a reply (or a SKILL.md): fenced code, headings, list items, and their checks.

Fenced code is skipped by every Markdown check. Headings are ATX (``# Title``); a heading's
text is compared case-insensitively after removing closing ``#``, emphasis, a leading number
("1. ") and a trailing colon. List items are lines starting with ``-``, ``*`` or ``+``
(bullets) or ``1.`` / ``1)`` (numbered), nested ones included. Only closed fences count as
code blocks; the language is the first word of the info string, with a few aliases (``py`` is
``python``, ``js`` is ``javascript``...).
"""

from __future__ import annotations

import re

from skill_adapter.contracts import BulletListCheck, CodeBlockCheck, MarkdownHeadingsCheck, NumberedListCheck

from .evidence import CheckResult, plural, quote, result

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]|$)")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+\S")
_THEMATIC_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_NUMBERED = re.compile(r"^[ \t]*\d{1,9}[.)][ \t]+\S")
_LANGUAGE_ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "ts": "typescript",
    "yml": "yaml",
    "sh": "bash",
    "shell": "bash",
}


def scan_markdown(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Lines outside fenced code, and ``(info string, content)`` of each closed fenced block."""
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    info = ""
    body: list[str] = []
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence is None:
            if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
                fence, info, body = opened.group(1), opened.group(2).strip(), []
            else:
                prose.append(line)
        elif (
            opened
            and opened.group(1)[0] == fence[0]
            and len(opened.group(1)) >= len(fence)
            and not (opened.group(2).strip())
        ):
            blocks.append((info, "\n".join(body)))
            fence = None
        else:
            body.append(line)
    return prose, blocks


def heading_key(heading: str) -> str:
    """A heading's text as compared: no ``#``, emphasis, numbering, trailing colon; casefolded."""
    text = heading.strip().lstrip("#").strip().rstrip("#").strip()
    text = re.sub(r"^\d+(?:\.\d+)*[.)]?\s+", "", text)
    text = text.strip("*_` ").rstrip(":").strip("*_` ")
    return " ".join(text.split()).casefold()


def atx_heading(line: str) -> tuple[int, str] | None:
    """``(level, text)`` when ``line`` is an ATX heading (``## Title ##``), else ``None``."""
    match = _ATX.match(line)
    if match is None:
        return None
    content = line[match.end() :].rstrip()
    unclosed = content.rstrip("#")
    if unclosed != content and (not unclosed or unclosed[-1] in " \t"):
        content = unclosed  # a closing sequence
    return len(match.group(1)), content.strip()


def headings(text: str) -> list[tuple[int, str]]:
    """``(level, text)`` of each ATX heading outside fenced code."""
    prose, _ = scan_markdown(text)
    return [found for line in prose if (found := atx_heading(line)) is not None]


def normalize_language(name: str) -> str:
    key = name.strip().casefold()
    return _LANGUAGE_ALIASES.get(key, key)


# --- checks ---------------------------------------------------------------------------------


def check_headings(check: MarkdownHeadingsCheck, text: str) -> CheckResult:
    present = [(level, heading_key(h)) for level, h in headings(text) if check.level in (None, level)]
    at = f" at level {check.level}" if check.level else ""
    missing = [h for h in check.headings if heading_key(h) not in {key for _, key in present}]
    if missing:
        names = ", ".join(quote(h.strip().lstrip("#").strip()) for h in missing)
        return result(False, f"missing heading{'s' if len(missing) > 1 else ''} {names}{at}")
    if check.in_order:
        position = -1
        for previous, wanted in zip([None, *check.headings], check.headings, strict=False):
            key = heading_key(wanted)
            after = [i for i, (_, h) in enumerate(present) if h == key and i > position]
            if not after:
                return result(False, f"heading {quote(wanted)} does not come after {quote(previous or '')}")
            position = after[0]
        return result(True, f"all {len(check.headings)} headings present, in order")
    return result(True, f"all {len(check.headings)} headings present")


def check_list(check: BulletListCheck | NumberedListCheck, text: str) -> CheckResult:
    prose, _ = scan_markdown(text)
    if isinstance(check, BulletListCheck):
        kind = "bullet items"
        n = sum(1 for line in prose if _BULLET.match(line) and not _THEMATIC_BREAK.match(line))
    else:
        kind = "numbered items"
        n = sum(1 for line in prose if _NUMBERED.match(line))
    has = f"reply has {plural(n, kind)}"
    if n < check.min_items:
        return result(False, f"{has}; at least {check.min_items} required")
    if check.max_items is not None and n > check.max_items:
        return result(False, f"{has}; at most {check.max_items} allowed")
    return result(True, has)


def check_code_blocks(check: CodeBlockCheck, text: str) -> CheckResult:
    _, blocks = scan_markdown(text)
    languages = [normalize_language(info.split()[0]) if info.split() else "" for info, _ in blocks]
    if check.language:
        wanted = normalize_language(check.language)
        n = languages.count(wanted)
        label = f"{check.language} code block"
    else:
        n = len(blocks)
        label = "fenced code block"
    has = f"reply has {plural(n, label + 's')}"
    if n >= check.min_blocks:
        return result(True, has)
    other = f" (other blocks: {', '.join(lang or 'no language' for lang in languages)})" if blocks else ""
    return result(False, f"{has}; at least {check.min_blocks} required{other}")
