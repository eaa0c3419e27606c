"""Incremental detokenization with stop sequences: what streams is what the whole reply says."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skill_adapter.gateway.inference.decoding import ChoiceText, held_back

pytestmark = pytest.mark.unit


class Utf8Bytes:
    """A tokenizer whose tokens are single bytes: characters span several tokens."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


def stream(text: str, stop: list[str]) -> tuple[list[str], ChoiceText]:
    choice = ChoiceText(Utf8Bytes(), stop)
    pieces = []
    for byte in text.encode():
        pieces.append(choice.push(byte))
        if choice.finished:
            break
    pieces.append(choice.finish("length"))
    return pieces, choice


def test_multibyte_characters_are_sent_whole() -> None:
    pieces, choice = stream("né 🙂!", [])
    assert "".join(pieces) == "né 🙂!"
    assert all("\ufffd" not in piece for piece in pieces)
    assert choice.finish_reason == "length" and choice.tokens == len("né 🙂!".encode())


def test_text_that_may_start_a_stop_sequence_is_held_back() -> None:
    choice = ChoiceText(Utf8Bytes(), ["</end>"])
    sent = [choice.push(b) for b in b"ok </e"]
    assert "".join(sent) == "ok "
    assert choice.push(ord("x")) == "</ex"  # not a stop after all: released


def test_a_stop_sequence_ends_the_choice_and_is_never_sent() -> None:
    pieces, choice = stream("alpha STOP beta", ["STOP", "never"])
    assert "".join(pieces) == "alpha "
    assert choice.finish_reason == "stop"


def test_the_earliest_of_several_stops_wins() -> None:
    pieces, _ = stream("one two three", ["three", "two"])
    assert "".join(pieces) == "one "


def test_held_back_is_the_longest_suffix_that_starts_a_stop() -> None:
    assert held_back("abc", ["cde"]) == 1
    assert held_back("abcd", ["bcdx", "d"]) == 3
    assert held_back("abc", ["xyz"]) == 0
    assert held_back("", ["x"]) == 0


@given(st.text(max_size=40), st.lists(st.text(min_size=1, max_size=4), max_size=3))
def test_streaming_equals_cutting_the_whole_text_at_the_first_stop(text: str, stops: list[str]) -> None:
    pieces, _ = stream(text, stops)
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    assert "".join(pieces) == (text[: min(found)] if found else text)
