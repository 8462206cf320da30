"""Lambda's responses, as the Invoke API writes them (restJson1: the error code in
`x-amzn-ErrorType`, so AWS SDKs, restate-server's among them, raise the same errors).

- A service error (the call never ran the handler): its HTTP status, `x-amzn-ErrorType`,
  and a body with `Type` and `message`.
- A function error (the handler raised, timed out or its runtime died): HTTP 200 with
  `X-Amz-Function-Error: Unhandled` and the error as the payload.
"""

import json
from typing import Any

from aiohttp import web

# Synchronous invocations carry at most 6 MB each way.
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024


def service_error(
    status: int, error_type: str, message: str, request_id: str, **extra: str
) -> web.Response:
    body = {"Type": "User", "message": message, **extra}
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id},
    )


def throttled(request_id: str) -> web.Response:
    return service_error(
        429,
        "TooManyRequestsException",
        "Rate Exceeded.",
        request_id,
        Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
    )


def not_found(message: str, request_id: str) -> web.Response:
    return service_error(404, "ResourceNotFoundException", message, request_id)


def too_large(request_id: str) -> web.Response:
    return service_error(
        413,
        "RequestTooLargeException",
        f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation",
        request_id,
    )


def invalid_content(message: str, request_id: str) -> web.Response:
    return service_error(400, "InvalidRequestContentException", message, request_id)


def invalid_parameter(message: str, request_id: str) -> web.Response:
    return service_error(400, "InvalidParameterValueException", message, request_id)


def function_result(payload: bytes, request_id: str, version: str) -> web.Response:
    if len(payload) > MAX_RESPONSE_BYTES:
        return function_error(
            {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes).",
            },
            request_id,
            version,
        )
    return web.Response(
        status=200,
        body=payload,
        content_type="application/json",
        headers={"X-Amz-Executed-Version": version, "x-amzn-RequestId": request_id},
    )


def function_error(error: dict[str, Any], request_id: str, version: str) -> web.Response:
    return web.Response(
        status=200,
        body=json.dumps(error).encode(),
        content_type="application/json",
        headers={
            "X-Amz-Function-Error": "Unhandled",
            "X-Amz-Executed-Version": version,
            "x-amzn-RequestId": request_id,
        },
    )
