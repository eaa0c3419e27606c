"""Model folders that older transformers read the same way as the one that wrote them.

transformers 5 writes ``rope_parameters`` (4.x reads ``rope_theta`` and silently falls back to
its default of 10 000 without it) and names the tokenizer class ``TokenizersBackend`` (unknown
before 5.0; ``PreTrainedTokenizerFast`` is the same tokenizer.json wrapper in both). vLLM
builds pin their own transformers, so folders we write state both forms.
"""

from __future__ import annotations

import json
from pathlib import Path

from .atomic import write_json_atomic

V5_TOKENIZER_CLASS = "TokenizersBackend"
PORTABLE_TOKENIZER_CLASS = "PreTrainedTokenizerFast"
SAVED_LOAD_OPTIONS = ("is_local", "local_files_only")  # load-time kwargs transformers 5 writes back


def make_portable(folder: Path) -> None:
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope and "rope_theta" not in config:
        config["rope_theta"] = rope["rope_theta"]
        write_json_atomic(config_path, config)

    tokenizer_path = folder / "tokenizer_config.json"
    if tokenizer_path.is_file():
        tokenizer = json.loads(tokenizer_path.read_text(encoding="utf-8"))
        if tokenizer.get("tokenizer_class") == V5_TOKENIZER_CLASS:
            tokenizer["tokenizer_class"] = PORTABLE_TOKENIZER_CLASS
        for key in SAVED_LOAD_OPTIONS:
            tokenizer.pop(key, None)
        write_json_atomic(tokenizer_path, tokenizer)
