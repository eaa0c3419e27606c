"""One grammar for every full-match regex and "never contains" text of a rubric.

Guided decoding follows one constraint. A rubric often has several that all concern the whole
reply (commit-message: the message's shape, every line at most 72 characters, no code fence);
following only the first lets a guided reply break the others (measured on SmolLM2: 6.5% of
guided commit messages passed, most failing the 72-character first line). Their conjunction is
still a regular language, and llguidance's Lark dialect (the local engine's and vLLM's
``guidance`` backend) writes it as one token: ``/a/ & /b/`` is the intersection, ``~/x/`` the
complement, so "never contains t" is ``~/(?s:.*)t(?s:.*)/``.

Only regexes that mean the same in Python (where the rubric grades) and in Rust's regex dialect
(where llguidance compiles) go in: no lookaround, backreference, anchor, word boundary, atomic
group or possessive repeat. The first full-match regex is always the constraint's ``regex``
whatever it holds, as before; a grammar is built only when it adds something to that regex.

>>> from skill_adapter.contracts import NotContainsCheck, RegexCheck
>>> print(lark_grammar([RegexCheck(pattern="[a-z/]+", mode="fullmatch"),
...                     RegexCheck(pattern=".{1,9}", mode="fullmatch")],
...                    [NotContainsCheck(text="ab", case_sensitive=True)]))
start: REPLY
REPLY: /[a-z\\/]+/ & /.{1,9}/ & ~/(?s:.*)ab(?s:.*)/
"""

from __future__ import annotations

import re
from typing import Any

from skill_adapter.contracts import NotContainsCheck, RegexCheck

try:  # Python 3.11+: the parser is private but stable; the checks module walks it too
    from re import _constants as _sre_constants  # type: ignore[attr-defined]
    from re import _parser as _sre_parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parser  # type: ignore[no-redef]

_NOT_PORTABLE = {
    name
    for name in (
        "ASSERT",
        "ASSERT_NOT",
        "GROUPREF",
        "GROUPREF_EXISTS",
        "ATOMIC_GROUP",
        "POSSESSIVE_REPEAT",
        "AT",
    )
    if hasattr(_sre_constants, name)
}


def portable(pattern: str) -> bool:
    """Whether ``pattern`` (Python syntax, no flags) means the same to llguidance.

    >>> portable(r"(feat|fix)(\\([a-z-]+\\))?: [^\\n]{1,60}"), portable(r"(?!no)\\w+"), portable(r"a$")
    (True, False, False)
    """
    try:
        parsed = _sre_parser.parse(pattern)
    except re.error:
        return False

    def walk(items: Any) -> bool:
        for op, arg in items:
            if str(op) in _NOT_PORTABLE:
                return False
            if isinstance(arg, (list, tuple)):
                for part in arg:
                    if isinstance(part, _sre_parser.SubPattern) and not walk(part):
                        return False
                    if isinstance(part, list) and not all(
                        walk(sub) for sub in part if isinstance(sub, _sre_parser.SubPattern)
                    ):
                        return False
        return True

    return walk(parsed)


def _literal(pattern: str) -> str:
    """``pattern`` inside a Lark ``/.../`` literal: unescaped slashes and raw line breaks escaped."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append({"\n": "n", "\r": "r"}.get(char, char))
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "/":
            out.append("\\/")
        elif char in "\n\r":
            out.append("\\n" if char == "\n" else "\\r")
        else:
            out.append(char)
    return "".join(out)


def lark_grammar(regexes: list[RegexCheck], never: list[NotContainsCheck]) -> str:
    """The Lark grammar whose one token matches exactly the replies that fully match every
    regex and contain none of the ``never`` texts."""
    parts = [f"/{_literal(check.pattern)}/" for check in regexes]
    for check in never:
        text = _literal(re.escape(check.text))
        inner = text if check.case_sensitive else f"(?i:{text})"
        parts.append(f"~/(?s:.*){inner}(?s:.*)/")
    return "start: REPLY\nREPLY: " + " & ".join(parts)
