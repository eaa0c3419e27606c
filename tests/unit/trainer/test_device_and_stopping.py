"""Device choice on a machine without CUDA, out-of-memory recognition, GRPO's early stopping
and the tokens that end a GRPO completion."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from skill_adapter.trainer.core import TrainingError
from skill_adapter.trainer.training.callbacks import EarlyStopping
from skill_adapter.trainer.training.device import out_of_memory, resolve_device
from skill_adapter.trainer.training.run import stop_token_ids

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.unit


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_auto_trains_on_the_cpu_in_fp32_where_there_is_no_cuda() -> None:
    choice = resolve_device("auto")
    assert (choice.name, choice.cuda, choice.bf16) == ("cpu", False, False)
    assert choice.dtype == torch.float32


@pytest.mark.parametrize(("wanted", "code"), [("cuda:3", "device_unavailable"), ("tpu", "device_invalid")])
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_devices_that_are_not_there_are_refused(wanted: str, code: str) -> None:
    with pytest.raises(TrainingError) as failed:
        resolve_device(wanted)
    assert failed.value.code == code


def test_out_of_memory_is_recognised_on_cpu_and_cuda() -> None:
    assert out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert out_of_memory(
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
    )
    assert out_of_memory(MemoryError())
    assert not out_of_memory(RuntimeError("shape mismatch"))


def test_early_stopping_waits_for_patience_evaluations_without_improvement() -> None:
    stopping = EarlyStopping("eval_reward", patience=2)
    control = SimpleNamespace(should_training_stop=False)
    for step, reward in [(2, 0.4), (4, 0.6), (6, 0.55), (8, 0.6)]:
        stopping.on_evaluate(
            None, SimpleNamespace(global_step=step), control, metrics={"eval_reward": reward}
        )
    assert control.should_training_stop and stopping.stopped_at == 8
    assert (stopping.best, stopping.best_step) == (0.6, 4)


@pytest.mark.parametrize(
    ("generation_eos", "tokenizer_eos", "expected"),
    [(2, 2, {2}), ([2, 7], 2, {2, 7}), ([7], 2, {2, 7}), (None, 2, {2}), (None, None, set())],
)
def test_a_completion_ends_at_any_end_of_turn_id_of_model_or_tokenizer(
    generation_eos, tokenizer_eos, expected
) -> None:
    assert stop_token_ids(generation_eos, tokenizer_eos) == expected
