"""What the workflow, its activities and its callers pass each other (pydantic, as the
`pydantic_converter` sample does); the result is the service's own `QueryResult`, so both
promises hand over the same document."""

from pydantic import BaseModel

from service.models import DEMO_QUERY, QueryResult

FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


class QueryInput(BaseModel):
    """What a caller submits: one input model, so fields can be added compatibly."""

    query: str = DEMO_QUERY
    callback_url: str | None = None
    max_rows: int = 1000


class ReadInput(BaseModel):
    query_execution_id: str
    query: str
    max_rows: int


class Delivery(BaseModel):
    callback_url: str
    result: QueryResult


__all__ = ["FINAL_STATES", "Delivery", "QueryInput", "QueryResult", "ReadInput"]
