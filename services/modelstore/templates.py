"""Chat templates: read them where transformers keeps them, and fingerprint them.

A chat template that differs between training and serving is the most common reason an
adapter "does nothing", so every model and adapter records the sha256 of its template text.
The same reader serves model folders and adapter folders (PEFT and TRL often save the
tokenizer next to an adapter).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

# Where a template lives, in the order a tokenizer loads it: `chat_template.jinja` (what
# transformers saves since 4.43) wins over the `chat_template` of `tokenizer_config.json`
# (older saves); `chat_template.json` (multimodal processors) is the last resort.
TEMPLATE_FILE = "chat_template.jinja"
TOKENIZER_CONFIG = "tokenizer_config.json"
PROCESSOR_TEMPLATE = "chat_template.json"


def chat_template_hash(template: str) -> str:
    """The lowercase hex sha256 of the template text, byte for byte (UTF-8, no normalisation).

    >>> chat_template_hash("{{ messages }}")[:12]
    'f24189f08c85'
    """
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def _default_template(value: Any) -> str | None:
    """A template value of a config file: a string, or a list of named templates."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        named = {
            item.get("name"): item.get("template")
            for item in value
            if isinstance(item, dict) and isinstance(item.get("template"), str)
        }
        if "default" in named:
            return named["default"]
        return next(iter(named.values()), None)
    return None


def _template_from_json(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _default_template(data.get("chat_template")) if isinstance(data, dict) else None


def read_chat_template(model_path: Path | str) -> str | None:
    """The chat template of a model or adapter folder, or ``None`` when it has none.

    Looks where ``AutoTokenizer`` does, in its order of precedence: ``chat_template.jinja``, then
    the ``chat_template`` of ``tokenizer_config.json`` (a string, or a list of named templates of
    which ``default`` is used), then a processor's ``chat_template.json``.
    """
    folder = Path(model_path)
    jinja = folder / TEMPLATE_FILE
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    for name in (TOKENIZER_CONFIG, PROCESSOR_TEMPLATE):
        if (folder / name).is_file() and (template := _template_from_json(folder / name)) is not None:
            return template
    return None


def template_hash_or_none(template: str | None) -> str | None:
    return None if template is None else chat_template_hash(template)
