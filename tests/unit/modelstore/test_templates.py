"""Chat templates: where they are read from, and their fingerprint."""

from __future__ import annotations

import doctest
import hashlib
import json
from pathlib import Path

import pytest

from skill_adapter.modelstore import chat_template_hash, read_chat_template, refs, templates

pytestmark = pytest.mark.unit

TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"


def test_the_hash_is_the_sha256_of_the_exact_text() -> None:
    assert chat_template_hash(TEMPLATE) == hashlib.sha256(TEMPLATE.encode()).hexdigest()
    assert chat_template_hash(TEMPLATE + "\n") != chat_template_hash(TEMPLATE)  # no normalisation
    assert chat_template_hash("héllo") == hashlib.sha256("héllo".encode()).hexdigest()


def test_docstring_examples_hold() -> None:
    for module in (templates, refs):
        assert doctest.testmod(module).failed == 0


def test_no_template(tmp_path: Path) -> None:
    assert read_chat_template(tmp_path) is None
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    assert read_chat_template(tmp_path) is None


def test_template_from_the_jinja_file_wins(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "older"}))
    assert read_chat_template(tmp_path) == TEMPLATE


def test_template_from_tokenizer_config(tmp_path: Path) -> None:
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": TEMPLATE}))
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": "processor"}))
    assert read_chat_template(str(tmp_path)) == TEMPLATE


def test_named_templates_use_the_default(tmp_path: Path) -> None:
    named = [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": TEMPLATE}]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": named}))
    assert read_chat_template(tmp_path) == TEMPLATE


def test_a_processor_template_is_the_last_resort(tmp_path: Path) -> None:
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": TEMPLATE}))
    assert read_chat_template(tmp_path) == TEMPLATE


def test_what_transformers_saves_is_what_we_read(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from skill_adapter.modelstore.tiny import byte_level_tokenizer

    tokenizer = byte_level_tokenizer()
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(tmp_path)
    assert read_chat_template(tmp_path) == TEMPLATE == AutoTokenizer.from_pretrained(tmp_path).chat_template
