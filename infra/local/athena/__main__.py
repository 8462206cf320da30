"""`python -m infra.local.athena --port 9200 --data data/`: serve the local Athena."""

import logging

from aiohttp import web

from .config import parse_args
from .server import create_app


def main(argv: list[str] | None = None) -> None:
    # A bad setting exits 2 with a sentence naming the variable, before anything starts.
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # aiohttp announces once the socket is bound; say it in one line of our own instead.
    announce = (
        f"local-athena listening on {config.url} "
        f"(data: {config.data_dir}, results: {config.results_dir})"
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
