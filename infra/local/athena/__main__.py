"""`python -m infra.local.athena --port 9200 --data data/`: serve the local Athena."""

import logging
import sys

from aiohttp import web
from pydantic import ValidationError

from .config import parse_args
from .server import create_app


def main(argv: list[str] | None = None) -> None:
    try:
        config = parse_args(argv)
    except ValidationError as error:
        sys.exit(f"local-athena: invalid settings: {error}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # aiohttp announces once the socket is bound; say it in one line of our own instead.
    announce = f"local-athena listening on {config.url} (data: {config.data_dir})"
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        print=lambda _: print(announce, flush=True),
        access_log=None,
    )


if __name__ == "__main__":
    main()
