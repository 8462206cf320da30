"""Results by link: Athena's result file, presigned for one GET, instead of its rows.

boto3's S3 client and its SigV4 presigner, the real code path for real S3, in threads (a link
is asked for now and then, not on every query's path); the local stack's
`AWS_ENDPOINT_URL_S3` points the same client at the local Athena's result files. No Restate.
"""

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from service.athena.client import AthenaQueries, ExecutionStatus
from service.models import Column, ResultLink
from service.promisify import JobRefused
from service.settings import MAX_LINK_EXPIRES_S, Settings

# Athena fills GetQueryRuntimeStatistics' Rows a little after the query ends: ask this often.
ROW_COUNT_ATTEMPTS = 3
ROW_COUNT_WAIT_S = 1.0


class ResultFileUnreadable(JobRefused):
    def __init__(self, location: str, error: ClientError) -> None:
        super().__init__(
            f"the result file {location} cannot be read ({error}); check that it exists and "
            "that the service's role may s3:GetObject it"
        )


def _status_of(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class LinkedResult(BaseModel):
    """What the link step journals: the link and what the result says beside it, or no link
    (the file is small enough: the rows go inline)."""

    link: ResultLink | None = None
    columns: list[Column] = Field(default_factory=list)
    row_count: int = 0
    heard_at: float | None = None


def split_s3_url(location: str) -> tuple[str, str]:
    """`s3://bucket/some/key.csv` as ("bucket", "some/key.csv")."""
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not location.startswith("s3://") or not bucket or not key:
        raise ValueError(f"not an s3:// object: {location!r}")
    return bucket, key


class ResultLinks:
    def __init__(self, settings: Settings, athena: AthenaQueries, session: Any = None) -> None:
        self._settings = settings
        self._athena = athena
        self._session = session or boto3.session.Session(region_name=settings.aws_region)
        self._s3 = self._session.client(
            "s3",
            config=Config(
                signature_version="s3v4",  # presigned URLs must be SigV4 (SigV2 is retired)
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=20,
            ),
        )

    async def link(
        self, status: ExecutionStatus, by_link: bool, above_bytes: int | None
    ) -> LinkedResult:
        """A presigned link when asked, or when the file is over `above_bytes`; else none."""
        assert status.output_location is not None
        bucket, key = split_s3_url(status.output_location)
        try:
            head = await asyncio.to_thread(self._s3.head_object, Bucket=bucket, Key=key)
        except ClientError as error:
            if _status_of(error) in (403, 404):  # no such file, or no right to it: for good
                raise ResultFileUnreadable(status.output_location, error) from error
            raise
        size = int(head["ContentLength"])
        if not by_link and (above_bytes is None or size <= above_bytes):
            return LinkedResult()
        if status.first_page is not None:
            columns = status.first_page.columns
        else:
            columns = (await self._athena.fetch_page(status.query_execution_id, None, 1)).columns
        row_count = await self._row_count(status.query_execution_id, bucket, key)
        # In a thread: the credentials may need refreshing first (a role's session).
        url, expires_at = await asyncio.to_thread(self._presign, bucket, key)
        link = ResultLink(url=url, expires_at=expires_at, size_bytes=size)
        return LinkedResult(link=link, columns=columns, row_count=row_count, heard_at=time.time())

    async def _row_count(self, query_execution_id: str, bucket: str, key: str) -> int:
        for attempt in range(ROW_COUNT_ATTEMPTS):
            count = await self._athena.output_rows(query_execution_id)
            if count is not None:
                return count
            if attempt + 1 < ROW_COUNT_ATTEMPTS:
                await asyncio.sleep(ROW_COUNT_WAIT_S)
        # Athena may never say (row-level filters): count the file's records, once.
        return await asyncio.to_thread(self._count_records, bucket, key)

    def _count_records(self, bucket: str, key: str) -> int:
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        text = io.TextIOWrapper(body, encoding="utf-8", newline="")
        return max(0, sum(1 for _ in csv.reader(text)) - 1)  # less the header row

    def _presign(self, bucket: str, key: str) -> tuple[str, datetime]:
        """The URL and when it stops working: the setting, within SigV4's 7 days and the
        signing credentials' own expiry (a role's session ends, and its URLs with it)."""
        now = datetime.now(UTC)
        expires_s = min(self._settings.athena_result_link_expires_s, MAX_LINK_EXPIRES_S)
        credentials = self._session.get_credentials()
        if credentials is not None:
            credentials.get_frozen_credentials()  # refreshes them if they are about to expire
            ends = getattr(credentials, "_expiry_time", None)
            if isinstance(ends, datetime):
                expires_s = max(1, min(expires_s, int((ends - now).total_seconds())))
        url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )
        return str(url), now.replace(microsecond=0) + timedelta(seconds=expires_s)
