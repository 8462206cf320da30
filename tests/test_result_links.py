"""Results by link, piece by piece: the local S3 endpoint's SigV4 check against URLs that
boto3's own presigner makes, the link's expiry within the signer's credentials, and the
operator's size capping the request's."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

from infra.local.athena.objects import S3Refusal, check_signature
from service.athena.client import AthenaQueries
from service.athena.job import AthenaJob
from service.athena.links import ResultLinks, split_s3_url
from service.models import QueryRequest
from service.settings import Settings, settings

LOCAL = Credentials("local", "local")
ENDPOINT = "http://127.0.0.1:9200"


def presigned(expires_s: int = 60, key: str = "results/q 1.csv", secret: str = "local") -> str:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key=secret,
        endpoint_url=ENDPOINT,
        config=Config(signature_version="s3v4"),
    )
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": key}, ExpiresIn=expires_s
    )
    return str(url)


def check(url: str, now: float | None = None, headers: dict[str, str] | None = None) -> None:
    parts = urlsplit(url)
    raw = parts.path + (f"?{parts.query}" if parts.query else "")
    check_signature("GET", parts.netloc, raw, headers or {}, LOCAL, now)


def refusal(url: str, now: float | None = None) -> tuple[int, str, str]:
    with pytest.raises(S3Refusal) as caught:
        check(url, now)
    return caught.value.status, caught.value.code, caught.value.message


def test_a_link_the_presigner_made_is_accepted_until_it_expires() -> None:
    url = presigned(expires_s=60)
    check(url)
    check(url, now=time.time() + 55)
    assert refusal(url, now=time.time() + 62) == (403, "AccessDenied", "Request has expired")


@pytest.mark.parametrize(
    "alter",
    [
        lambda url: url.replace("q%201.csv", "q%202.csv"),  # another file
        lambda url: url.replace("X-Amz-Expires=60", "X-Amz-Expires=600"),  # a longer life
        lambda url: url.replace("127.0.0.1:9200", "localhost:9200"),  # another host
        lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"),  # another signature
    ],
)
def test_an_altered_link_is_refused(alter: Any) -> None:
    status, code, _ = refusal(alter(presigned()))
    assert (status, code) == (403, "SignatureDoesNotMatch")


def test_a_link_signed_with_other_credentials_or_none_is_refused() -> None:
    assert refusal(presigned(secret="not-local"))[1] == "SignatureDoesNotMatch"
    assert refusal(f"{ENDPOINT}/bucket/results/q.csv")[:2] == (403, "AccessDenied")
    too_long = presigned().replace("X-Amz-Expires=60", "X-Amz-Expires=604801")
    assert refusal(too_long)[:2] == (400, "AuthorizationQueryParametersError")


def test_a_request_signed_in_its_headers_is_checked_too() -> None:
    # What boto3's HeadObject sends: SigV4 in the Authorization header.
    request = AWSRequest(method="HEAD", url=f"{ENDPOINT}/bucket/results/q.csv")
    S3SigV4Auth(LOCAL, "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    check_signature("HEAD", "127.0.0.1:9200", "/bucket/results/q.csv", headers, LOCAL)
    with pytest.raises(S3Refusal):
        check_signature("HEAD", "127.0.0.1:9200", "/bucket/results/r.csv", headers, LOCAL)
    with pytest.raises(S3Refusal):
        later = time.time() + 3600
        check_signature("HEAD", "127.0.0.1:9200", "/bucket/results/q.csv", headers, LOCAL, later)


class _Session:
    """A boto3 session whose credentials end soon, as a role's session does."""

    def __init__(self, ends_in_s: float) -> None:
        self._real = boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="secret"
        )
        self.credentials = RefreshableCredentials(
            "AKID",
            "secret",
            "token",
            datetime.now(UTC) + timedelta(seconds=ends_in_s),
            refresh_using=lambda: {},
            method="test",
        )

    def client(self, *args: Any, **kwargs: Any) -> Any:
        return self._real.client(*args, **kwargs)

    def get_credentials(self) -> RefreshableCredentials:
        return self.credentials


def links(ends_in_s: float, expires_s: int) -> ResultLinks:
    current = Settings(athena_result_link_expires_s=expires_s)
    return ResultLinks(current, AthenaQueries(current, transport=object()), _Session(ends_in_s))  # type: ignore[arg-type]


def test_a_link_lives_as_long_as_the_setting_says_within_the_signers_credentials() -> None:
    url, expires_at = links(ends_in_s=7200, expires_s=600)._presign("bucket", "results/q.csv")
    assert "X-Amz-Expires=600" in url
    assert abs((expires_at - datetime.now(UTC)).total_seconds() - 600) < 5
    # The role's session ends in about 40 minutes: the link must not claim to outlive it.
    url, expires_at = links(ends_in_s=2400, expires_s=3600)._presign("bucket", "results/q.csv")
    seconds = int(url.split("X-Amz-Expires=")[1].split("&")[0])
    assert 2390 <= seconds <= 2400
    assert abs((expires_at - datetime.now(UTC)).total_seconds() - seconds) < 5


def test_the_setting_refuses_more_than_sigv4_allows() -> None:
    with pytest.raises(ValueError, match="604800"):
        Settings(athena_result_link_expires_s=604_801)


def test_an_s3_location_splits_into_bucket_and_key() -> None:
    assert split_s3_url("s3://bucket/results/q.csv") == ("bucket", "results/q.csv")
    with pytest.raises(ValueError):
        split_s3_url("s3://bucket/")


@pytest.mark.parametrize(
    ("operator", "asked", "planned"),
    [
        (None, None, None),
        (None, 500, 500),
        (1000, None, 1000),
        (1000, 500, 500),
        (1000, 10**9, 1000),
    ],
)
def test_the_operators_size_caps_the_requests(
    monkeypatch: pytest.MonkeyPatch, operator: int | None, asked: int | None, planned: int | None
) -> None:
    if operator is not None:
        monkeypatch.setenv("ATHENA_RESULT_LINK_ABOVE_BYTES", str(operator))
    settings.cache_clear()
    try:
        request = QueryRequest(result_link_above_bytes=asked)
        assert AthenaJob().prepare(request).result_link_above_bytes == planned
    finally:
        settings.cache_clear()


def test_a_request_without_the_new_fields_reads_and_plans_as_before() -> None:
    request = QueryRequest.model_validate({"query": "SELECT 1"})
    assert request.result_by is None and request.result_link_above_bytes is None
    with pytest.raises(ValueError, match="result_by"):
        QueryRequest.model_validate({"result_by": "file"})
