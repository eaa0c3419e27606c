"""The event catalogue: every message type on the wire, by subject."""

from __future__ import annotations

from . import datasets, evaluation, serving, skills, training
from .envelope import Message

_MODULES = (skills, datasets, training, evaluation, serving)


def _collect() -> dict[str, type[Message]]:
    found: dict[str, type[Message]] = {}
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Message) and "SUBJECT" in vars(value):
                if value.SUBJECT in found:
                    raise RuntimeError(f"two contracts claim {value.SUBJECT}")
                found[value.SUBJECT] = value
    return dict(sorted(found.items()))


MESSAGES: dict[str, type[Message]] = _collect()


class UnknownSubject(LookupError):
    pass


def message_type(subject: str) -> type[Message]:
    """The contract for ``subject``; raises ``UnknownSubject``."""
    try:
        return MESSAGES[subject]
    except KeyError:
        raise UnknownSubject(f"no contract for subject {subject!r}") from None
