"""A local, Athena-compatible endpoint: the JSON 1.1 protocol over DuckDB. See `server.py`
and README.md next to this file for what it supports, translates and refuses."""

from .config import LocalAthenaConfig
from .results import local_path_for
from .server import create_app

__all__ = ["LocalAthenaConfig", "create_app", "local_path_for"]
