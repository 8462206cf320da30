"""The process-wide objects handlers share: built once, from the settings."""

from functools import lru_cache

from service.athena import AthenaQueries
from service.settings import settings


@lru_cache(maxsize=1)
def athena() -> AthenaQueries:
    return AthenaQueries(settings())
