"""Turning generated token ids into text, one token at a time, with stop sequences.

``ChoiceText`` is one choice's text as it grows. Tokens are decoded incrementally (a window of
recent ids, as TGI and vLLM do, so a multi-byte character split over tokens is only emitted
once complete), and text is held back while it could still be the beginning of a stop
sequence, so no part of a stop sequence ever reaches the client. The streamed pieces and the
non-streamed text are the same by construction: one is the other joined.

>>> class Chars:  # a "tokenizer" whose token ids are character codes
...     def decode(self, ids, skip_special_tokens=True):
...         return "".join(map(chr, ids))
>>> text = ChoiceText(Chars(), stop=["END"])
>>> [text.push(ord(c)) for c in "hi EN"]
['h', 'i', ' ', '', '']
>>> text.push(ord("D")), text.finish_reason
('', 'stop')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Decoder(Protocol):
    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


def held_back(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a stop sequence."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


def first_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where the earliest stop sequence starts in ``text``."""
    found = [index for index in (text.find(stop) for stop in stops) if index >= 0]
    return min(found) if found else None


class ChoiceText:
    """One choice: push token ids, get the text that may be sent now."""

    def __init__(self, tokenizer: Decoder, stop: Sequence[str] = ()) -> None:
        self._tokenizer = tokenizer
        self._stops = [s for s in stop if s]
        self._ids: list[int] = []
        self._prefix_offset = 0
        self._read_offset = 0
        self._pending = ""
        self.tokens = 0
        self.finish_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def push(self, token_id: int) -> str:
        """Add a generated token; the text that can be sent now (maybe empty)."""
        self.tokens += 1
        self._ids.append(token_id)
        return self._release(self._decode_new(final=False))

    def finish(self, reason: str) -> str:
        """End the choice (``stop`` at end of sequence, ``length``): the text still held back."""
        if self.finished:
            return ""
        text = self._release(self._decode_new(final=True), final=True)
        if self.finish_reason is None:
            self.finish_reason = reason
        return text

    def _decode_new(self, *, final: bool) -> str:
        decode = self._tokenizer.decode
        prefix = decode(self._ids[self._prefix_offset : self._read_offset], skip_special_tokens=True)
        full = decode(self._ids[self._prefix_offset :], skip_special_tokens=True)
        if len(full) > len(prefix) and (final or not full.endswith("\ufffd")):
            self._prefix_offset, self._read_offset = self._read_offset, len(self._ids)
            return full[len(prefix) :]
        return ""

    def _release(self, new: str, *, final: bool = False) -> str:
        self._pending += new
        stop_at = first_stop(self._pending, self._stops)
        if stop_at is not None:
            out, self._pending = self._pending[:stop_at], ""
            self.finish_reason = "stop"
            return out
        keep = 0 if final else held_back(self._pending, self._stops)
        cut = len(self._pending) - keep
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out
