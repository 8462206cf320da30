"""`python -m infra.local.lambda_endpoint --port 9300 --function athena-promise`."""

import logging

from aiohttp import web

from .config import parse_args
from .server import create_app


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    announce = (
        f"local-lambda listening on {config.url} (functions: {', '.join(config.functions)}; "
        f"handler {config.handler}; concurrency {config.concurrency}; "
        f"timeout {config.timeout_s:g} s)"
    )
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        print=lambda _: print(announce, flush=True),
        access_log=None,
    )


if __name__ == "__main__":
    main()
