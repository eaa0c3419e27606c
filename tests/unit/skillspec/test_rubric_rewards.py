"""TRL reward functions from a rubric, called the way GRPOTrainer calls them."""

from __future__ import annotations

import doctest

import pytest

from skill_adapter.contracts import ContainsCheck, JudgeCheck, LengthCheck, ValidJsonCheck
from skill_adapter.skillspec.rubric import rewards
from skill_adapter.skillspec.rubric.checks import JudgeRequired
from skill_adapter.skillspec.rubric.rewards import (
    completion_text,
    finished_only,
    reward_function,
    rubric_reward,
)

from .builders import criterion, rubric

pytestmark = pytest.mark.unit

JSON = criterion("body.l3.valid-json", ValidJsonCheck(), weight=3.0)
SHORT = criterion("body.l4.max-words", LengthCheck(unit="words", max=2))
REFUND = criterion("evals.1.1", ContainsCheck(text="refund"), eval_id="1")
FRIENDLY = criterion("body.l5.judge", JudgeCheck(instruction="Be friendly."))
RUBRIC = rubric(JSON, SHORT, REFUND, FRIENDLY, name="support-replies")


def trl_call(
    function: rewards.RewardFunction, completions: list[object], **columns: list[object]
) -> list[object]:
    """What GRPOTrainer passes: prompts, completions, completion ids, the other columns, its state."""
    return function(
        prompts=[[{"role": "user", "content": "hi"}]] * len(completions),
        completions=completions,
        completion_ids=[[1, 2, 3]] * len(completions),
        trainer_state=object(),
        **columns,
    )


def test_the_module_doctest_runs() -> None:
    failures, tried = doctest.testmod(rewards)
    assert tried > 0 and failures == 0


def test_reward_function_scores_plain_completions() -> None:
    assert reward_function(JSON)(['{"a": 1}', "nope"]) == [1.0, 0.0]


def test_reward_function_gives_partial_credit_for_length_unless_asked_not_to() -> None:
    completions = ["two words", "three words here"]
    assert reward_function(SHORT)(completions) == [1.0, 0.5]
    assert reward_function(SHORT, partial_credit=False)(completions) == [1.0, 0.0]


def test_conversational_completions_use_the_last_assistant_message() -> None:
    conversation = [
        {"role": "assistant", "content": "thinking..."},
        {"role": "tool", "content": '{"tool": "output"}'},
        {"role": "assistant", "content": '{"final": true}'},
    ]
    assert trl_call(reward_function(JSON), [conversation]) == [1.0]


def test_content_parts_are_joined() -> None:
    message = {
        "role": "assistant",
        "content": [{"type": "text", "text": '{"a":'}, {"type": "text", "text": " 1}"}],
    }
    assert completion_text([message]) == '{"a": 1}'
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text([]) == ""


def test_criteria_of_one_eval_give_none_for_other_samples() -> None:
    completions = ["a refund", "a refund", "no money back"]
    assert trl_call(reward_function(REFUND), completions, eval_id=["1", "2", 1]) == [1.0, None, 0.0]
    assert trl_call(reward_function(REFUND), completions) == [None, None, None]


def test_eval_ids_must_line_up_with_completions() -> None:
    with pytest.raises(ValueError, match="2 eval ids for 3 completions"):
        trl_call(reward_function(REFUND), ["a", "b", "c"], eval_id=["1", "1"])


def test_functions_have_readable_names_for_trl_logs() -> None:
    assert reward_function(JSON).__name__ == "body.l3.valid-json"
    assert rubric_reward(RUBRIC).__name__ == "rubric_support-replies"


def test_a_judge_criterion_has_no_deterministic_reward() -> None:
    with pytest.raises(JudgeRequired):
        reward_function(FRIENDLY)


def test_rubric_reward_is_the_weighted_mean_of_applicable_criteria() -> None:
    reward = rubric_reward(RUBRIC)
    completions = ['{"refund": 1}', "a refund please", '{"x": 1}']
    # 1: JSON 1 (w3), 2 words 1 (w1), refund 1 (w1) -> 1.0
    # 2: JSON 0 (w3), 3 words 0.5 (w1); eval 2 so no refund criterion -> 0.5 / 4
    # 3: no eval id: JSON 1 (w3), 2 words 1 (w1) -> 1.0
    assert trl_call(reward, completions, eval_id=["1", "2", None]) == [1.0, 0.125, 1.0]


def test_rubric_reward_is_none_where_nothing_applies() -> None:
    scoped = rubric(REFUND, FRIENDLY)
    assert trl_call(rubric_reward(scoped), ["refund", "refund"], eval_id=["1", "3"]) == [1.0, None]


def test_a_rubric_without_deterministic_criteria_has_no_reward() -> None:
    with pytest.raises(ValueError, match="no deterministic criterion"):
        rubric_reward(rubric(FRIENDLY))


def test_a_completion_that_never_ended_is_rewarded_zero() -> None:
    """TRL cuts completion ids after the first EOS: one not ending in a stop id ran out of tokens."""
    reward = finished_only(rubric_reward(RUBRIC), stop_ids={2, 9})
    completions = ['{"refund": 1}', '{"refund": 1}', '{"refund": 1}', "refund"]
    ids = [[5, 2], [5, 9], [5, 5], [5, 5]]
    values = reward(completions=completions, completion_ids=ids, eval_id=["1", "1", "1", "3"])
    assert values == [1.0, 1.0, 0.0, 0.0]
    assert reward.__name__ == "rubric_support-replies"  # what TRL logs is unchanged


def test_not_applicable_stays_none_and_without_ids_nothing_changes() -> None:
    reward = finished_only(reward_function(REFUND), stop_ids={2})
    assert reward(["refund", "refund"], completion_ids=[[1], [1]], eval_id=["1", "3"]) == [0.0, None]
    assert reward(["refund"], eval_id=["1"]) == [1.0]


def test_finished_only_needs_stop_ids_and_matching_id_lists() -> None:
    with pytest.raises(ValueError, match="no stop token ids"):
        finished_only(reward_function(JSON), stop_ids=())
    with pytest.raises(ValueError, match="2 completion id lists for 1 completions"):
        finished_only(reward_function(JSON), stop_ids={2})(["{}"], completion_ids=[[2], [2]])
