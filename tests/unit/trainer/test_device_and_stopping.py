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


def _model() -> torch.nn.Module:
    """A frozen 'base' and a trainable 'adapter', as a PEFT model presents them."""
    model = torch.nn.ModuleDict({"base": torch.nn.Linear(2, 2), "adapter": torch.nn.Linear(2, 2)})
    model["base"].requires_grad_(False)
    return model


def _evaluate(
    stopping: EarlyStopping, model: torch.nn.Module, step: int, reward: float, control=None
) -> None:
    control = control or SimpleNamespace(should_training_stop=False)
    with torch.no_grad():
        model["adapter"].weight.fill_(float(step))  # the weights of step N are all N
    stopping.on_evaluate(
        None, SimpleNamespace(global_step=step), control, metrics={"eval_reward": reward}, model=model
    )


def test_the_best_evaluations_weights_replace_a_worse_last_step() -> None:
    model, stopping = _model(), EarlyStopping("eval_reward", patience=5)
    base = model["base"].weight.clone()
    for step, reward in [(2, 0.5), (4, 0.9), (6, 0.7)]:
        _evaluate(stopping, model, step, reward)
    assert stopping.evaluated_step == 6
    assert stopping.load_best(model, step=6)
    assert torch.all(model["adapter"].weight == 4.0)  # step 4's
    assert torch.equal(model["base"].weight, base)  # only what trains is kept and put back


def test_nothing_changes_when_the_last_step_is_the_best_or_nothing_was_evaluated() -> None:
    model, stopping = _model(), EarlyStopping("eval_reward", patience=5)
    assert not stopping.load_best(model, step=3)
    for step, reward in [(2, 0.5), (4, 0.9)]:
        _evaluate(stopping, model, step, reward)
    assert not stopping.load_best(model, step=4)
    assert torch.all(model["adapter"].weight == 4.0)


def test_a_checkpoint_carries_the_best_so_far_into_a_resumed_run(tmp_path) -> None:
    model, stopping = _model(), EarlyStopping("eval_reward", patience=5)
    for step, reward in [(2, 0.9), (4, 0.6)]:
        _evaluate(stopping, model, step, reward)
    stopping.save(tmp_path, step=4)  # the checkpoint of step 4; step 2 was the best

    resumed, again = EarlyStopping("eval_reward", patience=5), _model()
    resumed.restore(tmp_path)
    assert (resumed.best, resumed.best_step, resumed.waited) == (0.9, 2, 1)
    _evaluate(resumed, again, 6, 0.7)
    assert resumed.load_best(again, step=6) and torch.all(again["adapter"].weight == 2.0)


def test_a_checkpoint_of_the_best_step_itself_stores_no_second_copy(tmp_path) -> None:
    model, stopping = _model(), EarlyStopping("eval_reward", patience=5)
    _evaluate(stopping, model, 2, 0.9)
    stopping.save(tmp_path, step=2)
    assert not (tmp_path / EarlyStopping.BEST_WEIGHTS).exists()

    resumed, again = EarlyStopping("eval_reward", patience=5), _model()
    resumed.restore(tmp_path)
    with torch.no_grad():
        again["adapter"].weight.fill_(2.0)  # resuming loads the checkpoint's weights: the best's
    resumed.on_train_begin(None, SimpleNamespace(global_step=2), None, model=again)
    _evaluate(resumed, again, 4, 0.5)
    assert resumed.load_best(again, step=4) and torch.all(again["adapter"].weight == 2.0)


def test_a_checkpoint_without_a_best_restores_nothing(tmp_path) -> None:
    stopping = EarlyStopping("eval_reward", patience=5)
    stopping.restore(tmp_path)
    assert stopping.best is None and not stopping.load_best(_model(), step=2)


@pytest.mark.parametrize(
    ("generation_eos", "tokenizer_eos", "expected"),
    [(2, 2, {2}), ([2, 7], 2, {2, 7}), ([7], 2, {2, 7}), (None, 2, {2}), (None, None, set())],
)
def test_a_completion_ends_at_any_end_of_turn_id_of_model_or_tokenizer(
    generation_eos, tokenizer_eos, expected
) -> None:
    assert stop_token_ids(generation_eos, tokenizer_eos) == expected
