"""Wire contracts of Agent Skill Adapter: pydantic models only, no broker or torch imports."""

from .catalog import MESSAGES, UnknownSubject, message_type
from .datasets import DatasetFailed, DatasetGenerated, DatasetProgress, GenerateDataset
from .envelope import Command, Diagnostic, Event, Message, new_event_id
from .evaluation import EvaluationCompleted, EvaluationFailed, StartEvaluation
from .naming import (
    CONTEXTS,
    DEADLETTER_STREAM,
    NamingError,
    Subject,
    deadletter_subject,
    durable_name,
    max_deliveries_advisory,
    stream_name,
    subject,
)
from .serving import AdapterPromoted, AdapterRegistered, AdapterRetired
from .skills import IngestSkill, SkillParsed, SkillRejected
from .streams import ADVISORIES, DEADLETTER, STREAMS, ConsumerSpec, StreamSpec
from .training import (
    CancelJob,
    JobCancelled,
    JobCheckpointed,
    JobFailed,
    JobPaused,
    JobProgress,
    JobStarted,
    JobStatus,
    JobSucceeded,
    PauseJob,
    ResumeJob,
    StartJob,
)

__all__ = [
    "ADVISORIES",
    "CONTEXTS",
    "DEADLETTER",
    "DEADLETTER_STREAM",
    "MESSAGES",
    "STREAMS",
    "AdapterPromoted",
    "AdapterRegistered",
    "AdapterRetired",
    "CancelJob",
    "Command",
    "ConsumerSpec",
    "DatasetFailed",
    "DatasetGenerated",
    "DatasetProgress",
    "Diagnostic",
    "EvaluationCompleted",
    "EvaluationFailed",
    "Event",
    "GenerateDataset",
    "IngestSkill",
    "JobCancelled",
    "JobCheckpointed",
    "JobFailed",
    "JobPaused",
    "JobProgress",
    "JobStarted",
    "JobStatus",
    "JobSucceeded",
    "Message",
    "NamingError",
    "PauseJob",
    "ResumeJob",
    "SkillParsed",
    "SkillRejected",
    "StartEvaluation",
    "StartJob",
    "StreamSpec",
    "Subject",
    "UnknownSubject",
    "deadletter_subject",
    "durable_name",
    "max_deliveries_advisory",
    "message_type",
    "new_event_id",
    "stream_name",
    "subject",
]
