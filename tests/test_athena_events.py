"""Athena's state-change event as the public events endpoint reads it: hostile input expected,
so the query id becomes a mailbox key only when it is a UUID."""

import json

import pytest

from service.athena.events import read_state_change
from service.promisify import EventRefused, News

QUERY_ID = "89db9dae-ee97-4e09-810a-a63ba4c4a9e8"


def event(query_execution_id: str, state: str = "SUCCEEDED", **envelope: str) -> bytes:
    body = {
        "source": "aws.athena",
        "detail-type": "Athena Query State Change",
        "detail": {"queryExecutionId": query_execution_id, "currentState": state},
        **envelope,
    }
    return json.dumps(body).encode()


def test_an_athena_state_change_is_its_query_and_state() -> None:
    assert read_state_change(event(QUERY_ID)) == News(job_id=QUERY_ID, state="SUCCEEDED")
    upper = QUERY_ID.upper()
    assert read_state_change(event(upper, "RUNNING")) == News(job_id=upper, state="RUNNING")


def test_another_event_is_no_news() -> None:
    assert read_state_change(event(QUERY_ID, source="aws.s3")) is None


@pytest.mark.parametrize(
    "query_execution_id",
    [
        "../promise/x/status",
        QUERY_ID[:-1],
        QUERY_ID + "\n",
        QUERY_ID.replace("-", "_"),
        "89db9dae-ee97-4e09-810a-a63ba4c4a9eg",
        "",
    ],
)
def test_a_query_id_that_is_not_a_uuid_is_refused_by_name(query_execution_id: str) -> None:
    with pytest.raises(EventRefused, match=r"detail\.queryExecutionId: is not a UUID"):
        read_state_change(event(query_execution_id))


def test_a_malformed_event_is_refused_naming_the_field() -> None:
    body = json.dumps({"source": "aws.athena", "detail-type": "x", "detail": {}}).encode()
    with pytest.raises(EventRefused, match="queryExecutionId"):
        read_state_change(body)
