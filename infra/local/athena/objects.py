"""Result files over S3's GetObject and HeadObject, so a presigned link works locally.

The service presigns a GET of Athena's result file with boto3 (`AWS_ENDPOINT_URL_S3` points it
here). Every request is checked as S3 checks it: the SigV4 signature is recomputed with
botocore's own signer from the known local credentials, in the query string (a presigned URL)
or the Authorization header (boto3's HeadObject), and a presigned URL past its `X-Amz-Expires`
is refused. Anything else is 403, in S3's XML error shape.
"""

import hmac
import time
import uuid
from calendar import timegm
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web
from botocore.auth import SIGV4_TIMESTAMP, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .results import local_path_for

ALGORITHM = "AWS4-HMAC-SHA256"
# S3's bounds: a presigned URL lives at most 7 days; a signed request's clock may be 15 min off.
MAX_EXPIRES_S = 7 * 24 * 3600
MAX_SKEW_S = 15 * 60
# S3's bucket names: 3 to 63 of these. `_local/...` routes never match.
BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


class S3Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.status, self.code, self.message = status, code, message


def check_signature(
    method: str,
    host: str,
    raw_path: str,
    headers: dict[str, str],
    credentials: Credentials,
    now: float | None = None,
) -> None:
    """Raise S3Refusal unless the request is signed by `credentials` and still valid."""
    now = time.time() if now is None else now
    headers = {name.lower(): value for name, value in headers.items()}
    path, _, query_string = raw_path.partition("?")
    params = dict(parse_qsl(query_string, keep_blank_values=True))
    signer: S3SigV4Auth | S3SigV4QueryAuth
    if "X-Amz-Signature" in params:
        signed, given = _presigned(params, now), params["X-Amz-Signature"]
        # The query as sent, less the signature: what the signer signed (it sorts the pairs).
        kept = [pair for pair in query_string.split("&") if not pair.startswith("X-Amz-Signature=")]
        request = AWSRequest(method=method, url=f"http://{host}{path}?{'&'.join(kept)}")
        signer = S3SigV4QueryAuth(credentials, "s3", signed.region)
    elif headers.get("authorization", "").startswith(ALGORITHM + " "):
        signed, given = _header_signed(headers, now)
        request = AWSRequest(method=method, url=f"http://{host}{raw_path}")
        for name in signed.headers:
            if name != "host":
                request.headers[name] = headers.get(name, "")
        signer = S3SigV4Auth(credentials, "s3", signed.region)
    else:
        raise S3Refusal(403, "AccessDenied", "Access Denied: the request is not signed (SigV4)")
    if signed.access_key != credentials.access_key:
        raise S3Refusal(
            403, "InvalidAccessKeyId", "The AWS access key Id you provided does not exist"
        )
    request.context["timestamp"] = signed.timestamp
    if signed.headers != signer.signed_headers(signer.headers_to_sign(request)).split(";"):
        raise S3Refusal(403, "SignatureDoesNotMatch", "The signed headers are not the ones sent")
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, given):
        raise S3Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )


@dataclass(frozen=True)
class _Signed:
    access_key: str
    region: str
    timestamp: str
    headers: list[str]


def _scope(credential: str, timestamp: str) -> tuple[str, str]:
    # AKID/20261201/us-east-1/s3/aws4_request
    parts = credential.split("/")
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
        raise S3Refusal(400, "AuthorizationQueryParametersError", "Malformed credential scope")
    if parts[1] != timestamp[:8]:
        raise S3Refusal(403, "SignatureDoesNotMatch", "The credential's date is not the request's")
    return parts[0], parts[2]


def _epoch(timestamp: str) -> float:
    try:
        return float(timegm(time.strptime(timestamp, SIGV4_TIMESTAMP)))
    except ValueError:
        raise S3Refusal(400, "AuthorizationQueryParametersError", "Malformed X-Amz-Date") from None


def _presigned(params: dict[str, str], now: float) -> _Signed:
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise S3Refusal(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm must be SigV4")
    timestamp = params.get("X-Amz-Date", "")
    signed_at = _epoch(timestamp)
    expires = params.get("X-Amz-Expires", "")
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES_S:
        raise S3Refusal(
            400,
            "AuthorizationQueryParametersError",
            f"X-Amz-Expires must be between 1 and {MAX_EXPIRES_S} seconds",
        )
    if now > signed_at + int(expires):
        raise S3Refusal(403, "AccessDenied", "Request has expired")
    if signed_at > now + MAX_SKEW_S:
        raise S3Refusal(403, "AccessDenied", "Request is not valid yet")
    access_key, region = _scope(params.get("X-Amz-Credential", ""), timestamp)
    headers = params.get("X-Amz-SignedHeaders", "").split(";")
    return _Signed(access_key, region, timestamp, headers)


def _header_signed(headers: dict[str, str], now: float) -> tuple[_Signed, str]:
    fields = dict(
        item.strip().partition("=")[::2]
        for item in headers["authorization"].removeprefix(ALGORITHM).split(",")
    )
    timestamp = headers.get("x-amz-date", "")
    if abs(now - _epoch(timestamp)) > MAX_SKEW_S:
        raise S3Refusal(403, "RequestTimeTooSkewed", "The request time is too far from ours")
    access_key, region = _scope(fields.get("Credential", ""), timestamp)
    signed = _Signed(access_key, region, timestamp, fields.get("SignedHeaders", "").split(";"))
    return signed, fields.get("Signature", "")


def s3_error(refusal: S3Refusal, method: str) -> web.Response:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{refusal.code}</Code><Message>{refusal.message}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    )
    return web.Response(
        # A HEAD answer has no body: botocore reads the status alone.
        body=None if method == "HEAD" else body.encode(),
        status=refusal.status,
        content_type="application/xml",
        headers={"x-amz-request-id": request_id},
    )


def result_object(
    request: web.Request, results_dir: Path, credentials: Credentials
) -> web.StreamResponse:
    """GET or HEAD /{bucket}/{key}: the result file, if the request is signed and valid."""
    try:
        check_signature(
            request.method, request.host, request.raw_path, dict(request.headers), credentials
        )
        bucket, key = request.match_info["bucket"], request.match_info["key"]
        try:
            path = local_path_for(f"s3://{bucket}/{key}", results_dir)
        except ValueError:
            path = None
        if path is None or not path.is_file():
            raise S3Refusal(404, "NoSuchKey", "The specified key does not exist.")
    except S3Refusal as refusal:
        return s3_error(refusal, request.method)
    return web.FileResponse(path, headers={"Content-Type": "text/csv"})
