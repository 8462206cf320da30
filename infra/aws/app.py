"""CDK entry point: `cdk synth` and `cdk deploy` run this from infra/aws (see cdk.json)."""

import os
import sys
from typing import Any

import aws_cdk as cdk

from infra.aws.stack import AthenaPromiseStack, ContextError, settings_from_context


def main(context: dict[str, Any] | None = None) -> int:
    app = cdk.App(context=context)
    try:
        settings = settings_from_context(app)
    except ContextError as error:
        for problem in str(error).splitlines():
            print(f"error: {problem}", file=sys.stderr)
        return 2
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    AthenaPromiseStack(app, "AthenaPromiseStack", settings=settings, env=env)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
