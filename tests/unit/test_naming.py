from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skill_adapter.contracts import (
    NamingError,
    Subject,
    deadletter_subject,
    durable_name,
    stream_name,
    subject,
)

pytestmark = pytest.mark.unit

token = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@given(
    context=token, kind=st.sampled_from(["cmd", "evt"]), entity=token, action=token, major=st.integers(1, 99)
)
def test_subject_round_trip(context: str, kind: str, entity: str, action: str, major: int) -> None:
    text = subject(context, kind, entity, action, major)  # type: ignore[arg-type]
    parsed = Subject.parse(text)
    assert str(parsed) == text
    assert parsed.type == text.rsplit(".v", 1)[0]
    assert parsed.stream == context.upper()


@pytest.mark.parametrize(
    "bad",
    [
        "training.evt.job.succeeded",  # no version
        "training.event.job.succeeded.v1",  # kind
        "Training.evt.job.succeeded.v1",  # case
        "training.evt.job.succeeded.v0",  # versions start at 1
        "training.evt.job.v1",  # missing token
        "training.evt.job.succeeded.v1.extra",
        "training.evt.job-x.succeeded.v1",
    ],
)
def test_bad_subjects_are_refused(bad: str) -> None:
    with pytest.raises(NamingError):
        Subject.parse(bad)


def test_stream_and_durable_names() -> None:
    assert stream_name("training") == "TRAINING"
    assert durable_name("skill-parser", "ingest") == "skill_parser_ingest"
    with pytest.raises(NamingError):
        durable_name("Trainer", "jobs")
    with pytest.raises(NamingError):
        durable_name("trainer", "jobs.start")
    assert deadletter_subject("training.cmd.job.start.v1") == "deadletter.training.cmd.job.start.v1"
