"""`python -m listener`: serve the webhook receiver until interrupted."""

import sys

from aiohttp import web

from listener.app import create_app
from listener.settings import load_settings


def main() -> None:
    settings, faults = load_settings()
    where = f"http://{settings.host}:{settings.port}"
    # stdout carries one line per delivery; everything else goes to stderr.
    print(f"listening on {where}/callback, storing in {settings.store}", file=sys.stderr)
    if faults is not None:
        print(f"injecting faults: {faults}", file=sys.stderr)
    web.run_app(create_app(settings, faults), host=settings.host, port=settings.port, print=None)


if __name__ == "__main__":
    main()
