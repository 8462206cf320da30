"""`python -m service`: serve the Restate endpoint with hypercorn."""

import asyncio

import hypercorn
import hypercorn.asyncio

from service.app import app
from service.settings import settings


def main() -> None:
    config = hypercorn.Config()
    config.bind = [f"0.0.0.0:{settings().port}"]
    # Restate talks HTTP/2 to the endpoint; hypercorn serves h2c on the same port.
    asyncio.run(hypercorn.asyncio.serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
