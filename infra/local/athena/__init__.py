"""A local, Athena-compatible endpoint: the JSON 1.1 protocol over DuckDB. See `server.py`."""

from .config import LocalAthenaConfig
from .server import create_app

__all__ = ["LocalAthenaConfig", "create_app"]
