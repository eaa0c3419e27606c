from __future__ import annotations

import json

import pytest

from skill_adapter.contracts import MESSAGES
from skill_adapter.runtime.asyncapi import asyncapi_document

pytestmark = pytest.mark.unit


def test_asyncapi_documents_every_subject_with_its_schema() -> None:
    document = json.loads(asyncapi_document("json"))
    assert document["asyncapi"].startswith("3.")
    channels = {c["address"] for c in document["channels"].values()}
    assert channels == set(MESSAGES)
    schemas = document["components"]["schemas"]
    job_failed = next(s for name, s in schemas.items() if "JobFailed" in name)
    assert {"event_id", "correlation_id", "reason"} <= set(job_failed["properties"])
