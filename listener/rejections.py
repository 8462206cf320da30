"""The last few requests whose signature failed: the page shows them beside the deliveries.

A 401 stores nothing, so these live in memory only and are gone on restart; every value in
them came from an unverified request (the page escapes it like everything else).
"""

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

KEPT = 20
SHOWN_ID_CHARS = 120


@dataclass(frozen=True)
class Rejection:
    webhook_id: str | None
    reason: str
    received_at: str


class RecentRejections:
    def __init__(self, kept: int = KEPT) -> None:
        self._kept: deque[Rejection] = deque(maxlen=kept)

    def add(self, headers: Mapping[str, str], reason: str) -> None:
        claimed = headers.get("webhook-id")
        webhook_id = None if claimed is None else claimed[:SHOWN_ID_CHARS]
        self._kept.append(Rejection(webhook_id, reason, datetime.now(UTC).isoformat()))

    def newest(self) -> list[dict[str, Any]]:
        return [asdict(rejection) for rejection in reversed(self._kept)]
