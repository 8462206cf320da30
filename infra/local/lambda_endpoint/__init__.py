"""A local stand-in for AWS Lambda's Invoke API, like `infra.local.athena` is for Athena.

restate-server, given `AWS_ENDPOINT_URL_LAMBDA`, calls `POST /2015-03-31/functions/{arn}/
invocations` for a deployment registered by Lambda ARN. This endpoint answers those calls by
running the SDK's own Lambda handler (`service.app:app`, which the SDK builds as a Lambda
handler when `AWS_LAMBDA_FUNCTION_NAME` is set) in worker processes, one invocation at a time
per worker, with Lambda's limits and error shapes: reserved concurrency (429 beyond it), a
timeout (15 minutes at most), and a crash of one worker failing that invocation only.

- `config`: what the endpoint serves (functions, concurrency, timeout, region, account).
- `functions`: which function a path names (name, partial or full ARN, qualifier).
- `worker`: the process that runs the handler, with a Lambda-like context.
- `pool`: the workers of one function, at most N busy at once.
- `shapes`: Lambda's error responses.
- `stats` and `cost`: what ran, and the cost per query as Lambda bills it.
- `server`: the aiohttp app; `python -m infra.local.lambda_endpoint` serves it.
"""

from .config import EndpointConfig
from .cost import LambdaCost, lambda_cost
from .server import create_app

__all__ = ["EndpointConfig", "LambdaCost", "create_app", "lambda_cost"]
