"""Constrained decoding with llguidance: a grammar per request, a matcher per choice.

``GrammarCompiler`` belongs to one loaded model. It wraps the model's tokenizer for llguidance
(once, on the first constrained request) and compiles each ``Constraint`` into a matcher in its
start state, kept in a bounded LRU cache: the data generator sends the same schema hundreds of
times. A request copies the compiled matcher once per choice (``Grammar.rows``); every decode
step ``GrammarRows.mask`` sets the logits of disallowed tokens to -inf (before any sampling
parameter is applied, greedy included) and ``GrammarRows.accept`` advances a choice's matcher
by the token it sampled. End-of-sequence is allowed only where the grammar is complete.

llguidance is imported inside the functions (the gateway runs without the local extra); its
``torch`` helpers are not used (they import ``torch.compile`` machinery); the bitmask is
expanded with plain tensor ops.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ..errors import UnsupportedParameter
from .constraints import Constraint, InvalidConstraint

LOCAL_EXTRA = "install the local engine: pip install 'agent-skill-adapter[local]'"
CACHE_SIZE = 64
MAX_ERROR_CHARS = 2000


STEP_LEXER_FUEL = 5_000_000
"""llguidance's work budget per token (its default is 200,000). The rubric's grammars intersect
bounded repeats (commit-message: a first line of at most 72 characters & every line at most 72 &
a body of at most 8 lines & never a code fence), whose lexer states are built lazily; with the
default budget such a grammar compiled, then failed at its fifth token ("too many expressions
constructed"). With this one the slowest mask of such a grammar takes ~60 ms on one CPU core,
once, and the rest ~3 ms."""


class ConstraintFailed(InvalidConstraint):
    """A choice's matcher failed during generation (e.g. the grammar hit a parser limit)."""


def _short(error: str) -> str:
    """llguidance's message without its parser-state dump, bounded."""
    return error.split("\n<state>", 1)[0].strip()[:MAX_ERROR_CHARS]


def _grammar_source(constraint: Constraint) -> str:
    """The llguidance grammar of ``constraint`` (as vLLM's guidance backend builds it)."""
    import llguidance

    if constraint.kind == "json":
        options: dict[str, Any] = {"whitespace_flexible": constraint.whitespace_flexible}
        if constraint.whitespace_pattern is not None:
            options["whitespace_pattern"] = constraint.whitespace_pattern
        return llguidance.LLMatcher.grammar_from_json_schema(constraint.source, defaults=options)
    return llguidance.grammar_from(constraint.kind, constraint.source)


class Grammar:
    """A compiled constraint: copy it into per-choice matchers with ``rows``."""

    def __init__(
        self, constraint: Constraint, matcher: Any, vocab_size: int, eos_ids: frozenset[int]
    ) -> None:
        self.constraint = constraint
        self._matcher = matcher
        self._lock = threading.Lock()
        self.vocab_size = vocab_size
        self.eos_ids = eos_ids

    def rows(self, n: int) -> GrammarRows:
        with self._lock:
            matchers = [self._matcher.deep_copy() for _ in range(n)]
        return GrammarRows(self, matchers)


class GrammarRows:
    """The matchers of one prompt's ``n`` choices, and the token bitmask they fill."""

    def __init__(self, grammar: Grammar, matchers: list[Any]) -> None:
        import torch

        self._grammar = grammar
        self._matchers = matchers
        words = (grammar.vocab_size + 31) // 32
        self._bitmask = torch.full((len(matchers), words), -1, dtype=torch.int32)
        self._shifts = torch.arange(32, dtype=torch.int32)
        self._eos = sorted(grammar.eos_ids)

    def _fail(self, matcher: Any) -> ConstraintFailed:
        return ConstraintFailed(
            f"The output constraint failed during generation: {_short(matcher.get_error())}",
            param=self._grammar.constraint.param,
        )

    def mask(self, logits: Any, active: Sequence[bool], *, ignore_eos: bool = False) -> None:
        """Set the logits (rows x vocab, in place) of tokens the grammar forbids to -inf.

        Rows not ``active`` (their choice is finished) are left alone. With ``ignore_eos``
        end-of-sequence stays forbidden while the grammar allows anything else.
        """
        import torch

        self._bitmask.fill_(-1)
        for row, matcher in enumerate(self._matchers):
            if not active[row]:
                continue
            target = self._bitmask[row]
            matcher.unsafe_compute_mask_ptr(target.data_ptr(), target.numel() * target.element_size())
            if matcher.is_error():
                raise self._fail(matcher)
        bits = (self._bitmask[:, :, None] >> self._shifts) & 1  # bit i of word w: token 32 * w + i
        allowed = bits.reshape(len(self._matchers), -1).bool()
        vocab = logits.shape[-1]
        if allowed.shape[1] < vocab:  # logits wider than the tokenizer: the rest is never allowed
            allowed = torch.nn.functional.pad(allowed, (0, vocab - allowed.shape[1]), value=False)
        allowed = allowed[:, :vocab]
        if ignore_eos and self._eos:
            without = allowed.clone()
            without[:, [token for token in self._eos if token < vocab]] = False
            allowed = torch.where(without.any(dim=-1, keepdim=True), without, allowed)
        logits.masked_fill_(~allowed.to(logits.device), float("-inf"))

    def accept(self, row: int, token: int) -> bool:
        """Advance choice ``row`` by its sampled ``token``; whether the grammar is now complete
        (nothing but end-of-sequence may follow)."""
        matcher = self._matchers[row]
        if not matcher.consume_token(token):
            raise self._fail(matcher)
        return bool(matcher.is_stopped())


class GrammarCompiler:
    """Compiles constraints for one model's tokenizer; thread-safe, with a bounded LRU cache."""

    def __init__(
        self, tokenizer: Any, vocab_size: int, eos_ids: frozenset[int], cache_size: int = CACHE_SIZE
    ) -> None:
        self._tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.eos_ids = eos_ids
        self._cache_size = cache_size
        self._cache: OrderedDict[Constraint, Grammar] = OrderedDict()
        self._lock = threading.Lock()
        self._ll_tokenizer: Any = None
        self.compiled = 0  # how many constraints were compiled (cache misses), for tests and logs

    def _llg_tokenizer(self, param: str) -> Any:
        """The tokenizer for llguidance (built once: about a second for a real vocabulary)."""
        with self._lock:
            if self._ll_tokenizer is None:
                try:
                    import llguidance.hf
                except ImportError as exc:
                    raise UnsupportedParameter(
                        param, f"needs llguidance, which is not installed: {LOCAL_EXTRA}."
                    ) from exc
                try:
                    self._ll_tokenizer = llguidance.hf.from_tokenizer(
                        self._tokenizer, n_vocab=self.vocab_size, eos_token=sorted(self.eos_ids) or None
                    )
                except ValueError as exc:  # a slow (Python) tokenizer
                    raise UnsupportedParameter(
                        param, f"is not supported with this model's tokenizer: {exc}."
                    ) from exc
            return self._ll_tokenizer

    def compile(self, constraint: Constraint) -> Grammar:
        """The compiled grammar of ``constraint``; a 400 (``InvalidConstraint``) when it is invalid.

        Blocking (up to a second for a large schema): call it in a worker thread.
        """
        with self._lock:
            if constraint in self._cache:
                self._cache.move_to_end(constraint)
                return self._cache[constraint]
        tokenizer = self._llg_tokenizer(constraint.param)
        import llguidance

        try:
            source = _grammar_source(constraint)
        except Exception as exc:  # ValueError mostly; the GBNF converter raises plain Exception
            raise InvalidConstraint(
                f"Invalid constraint: {_short(str(exc))}", param=constraint.param
            ) from exc
        matcher = llguidance.LLMatcher(
            tokenizer, source, log_level=0, limits=llguidance.LLParserLimits(step_lexer_fuel=STEP_LEXER_FUEL)
        )
        if matcher.is_error():
            raise InvalidConstraint(
                f"Invalid constraint: {_short(matcher.get_error())}", param=constraint.param
            )
        grammar = Grammar(constraint, matcher, int(tokenizer.vocab_size), self.eos_ids)
        with self._lock:
            self.compiled += 1
            self._cache[constraint] = grammar
            self._cache.move_to_end(constraint)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return grammar
