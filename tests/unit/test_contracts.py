from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import ValidationError

from skill_adapter.contracts import (
    CONTEXTS,
    MESSAGES,
    STREAMS,
    Command,
    ConsumerSpec,
    Event,
    JobStatus,
    JobSucceeded,
    StartJob,
    Subject,
    UnknownSubject,
    message_type,
)

pytestmark = pytest.mark.unit

SHA = "a" * 64


def job_succeeded(**overrides: object) -> JobSucceeded:
    fields = {
        "correlation_id": "job-1",
        "producer": "trainer",
        "job_id": "job-1",
        "adapter_object": "adapters/job-1.tar",
        "adapter_digest": SHA,
    }
    return JobSucceeded(**{**fields, **overrides})


def test_envelope_fields_and_constants() -> None:
    event = job_succeeded()
    assert event.type == "training.evt.job.succeeded"
    assert event.version == 1
    assert event.SUBJECT == "training.evt.job.succeeded.v1"
    assert event.occurred_at.tzinfo is not None
    assert event.causation_id is None
    assert job_succeeded().event_id != event.event_id


def test_messages_are_frozen_and_round_trip() -> None:
    event = job_succeeded()
    with pytest.raises(ValidationError):
        event.job_id = "other"  # type: ignore[misc]
    assert JobSucceeded.model_validate_json(event.model_dump_json()) == event


def test_type_and_version_cannot_be_forged() -> None:
    data = json.loads(job_succeeded().model_dump_json())
    with pytest.raises(ValidationError):
        JobSucceeded.model_validate({**data, "type": "training.evt.job.failed"})
    with pytest.raises(ValidationError):
        JobSucceeded.model_validate({**data, "version": 2})


def test_tolerant_reader_ignores_fields_added_by_newer_producers() -> None:
    data = json.loads(job_succeeded().model_dump_json())
    parsed = JobSucceeded.model_validate({**data, "added_later": 42})
    assert not hasattr(parsed, "added_later")


def test_missing_envelope_and_bad_digest_are_refused() -> None:
    with pytest.raises(ValidationError) as missing:
        JobSucceeded.model_validate({"job_id": "j", "adapter_object": "o", "adapter_digest": SHA})
    assert {e["loc"][0] for e in missing.value.errors()} == {"correlation_id", "producer"}
    with pytest.raises(ValidationError):
        job_succeeded(adapter_digest="not-a-digest")


def test_causation_links_messages() -> None:
    start = StartJob(
        correlation_id="job-9",
        producer="gateway",
        job_id="job-9",
        skill_name="s",
        skill_version="v",
        base_model="m",
        dataset_object="d",
        dataset_digest=SHA,
    )
    done = job_succeeded(**start.caused())
    assert done.correlation_id == "job-9"
    assert done.causation_id == start.event_id


def test_kind_and_subject_must_agree() -> None:
    with pytest.raises(TypeError):

        class Wrong(Event, subject="training.cmd.job.explode.v1"):
            pass

    class Fine(Command, subject="training.cmd.job.explode.v1"):
        extra: ClassVar[int] = 1

    assert Fine.model_fields["type"].default == "training.cmd.job.explode"


def test_catalogue_covers_every_context_with_commands_and_events() -> None:
    kinds: dict[str, set[str]] = {}
    for text, model in MESSAGES.items():
        parsed = Subject.parse(text)
        kinds.setdefault(parsed.context, set()).add(parsed.kind)
        assert model.SUBJECT == text
        assert issubclass(model, Event if parsed.kind == "evt" else Command)
    assert set(kinds) == set(CONTEXTS)
    for context in ("skills", "datasets", "training", "evaluation"):
        assert kinds[context] == {"cmd", "evt"}, context
    assert message_type("training.cmd.job.start.v1") is StartJob
    with pytest.raises(UnknownSubject):
        message_type("training.cmd.job.start.v9")


def test_every_subject_lands_in_exactly_one_stream() -> None:
    for text in MESSAGES:
        homes = [s.name for s in STREAMS if any(text.startswith(p.removesuffix(">")) for p in s.subjects)]
        assert homes == [Subject.parse(text).stream], text


def test_stream_defaults_never_drop_silently() -> None:
    for spec in STREAMS:
        assert spec.storage == "file"
        assert spec.discard == "new"
        assert spec.duplicate_window_seconds >= 60
        assert spec.max_bytes > 0 and spec.max_msgs > 0 and spec.max_age_seconds > 0
    assert all(s.num_replicas == 3 for s in (spec.with_replicas(3) for spec in STREAMS))


def test_job_status_matches_openai_plus_paused() -> None:
    assert {s.value for s in JobStatus} == {
        "validating_files",
        "queued",
        "running",
        "paused",
        "succeeded",
        "failed",
        "cancelled",
    }
    assert {s for s in JobStatus if s.is_terminal} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }


def test_nak_backoff_grows_then_holds() -> None:
    spec = ConsumerSpec(
        stream="S", durable="svc_p", filter_subjects=("a.cmd.b.c.v1",), backoff_seconds=(1, 5, 30)
    )
    assert [spec.nak_delay(n) for n in (1, 2, 3, 4, 10)] == [1, 5, 30, 30, 30]
    with pytest.raises(ValidationError):
        ConsumerSpec(stream="S", durable="svc_p", filter_subjects=("x",), backoff_seconds=(-1,))


def test_the_auto_train_header_reads_true_false_or_nothing() -> None:
    from skill_adapter.contracts import AUTO_TRAIN_HEADER, auto_train_of

    assert auto_train_of({AUTO_TRAIN_HEADER: "false"}) is False
    assert auto_train_of({AUTO_TRAIN_HEADER: " True "}) is True
    assert auto_train_of({AUTO_TRAIN_HEADER: "maybe"}) is None
    assert auto_train_of(None) is None and auto_train_of({}) is None
