"""Kept-alive HTTP connections: one aiohttp session per event loop and per kind of peer.

A session belongs to the loop it was made on. The service runs one loop for its lifetime;
Lambda keeps one across events; a test makes a loop of its own. So every pool of sessions
is keyed by the running loop, forgets the loops that have closed, and is closed with the
server (`close_all`, from `service.serving`). Webhook receivers and the dependency's API
both keep theirs here.
"""

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import aiohttp

K = TypeVar("K", bound=Hashable)

# Every pool alive, for `close_all`; one that is dropped (a test's) leaves on its own.
_POOLS: "weakref.WeakSet[LoopSessions[object]]" = weakref.WeakSet()


class LoopSessions(Generic[K]):
    def __init__(self, make: Callable[[K], aiohttp.ClientSession]) -> None:
        self._make = make
        self._by_loop: dict[asyncio.AbstractEventLoop, dict[K, aiohttp.ClientSession]] = {}
        _POOLS.add(self)  # type: ignore[arg-type]

    def get(self, key: K) -> aiohttp.ClientSession:
        """The running loop's session for `key`, made on first use (only inside a loop)."""
        loop = asyncio.get_running_loop()
        # A loop that has closed (a test's) takes its sessions with it: nothing can use them.
        for closed in [other for other in self._by_loop if other.is_closed()]:
            del self._by_loop[closed]
        sessions = self._by_loop.setdefault(loop, {})
        session = sessions.get(key)
        if session is None or session.closed:
            session = sessions[key] = self._make(key)
        return session

    async def close(self) -> None:
        """Close the running loop's sessions."""
        for session in self._by_loop.pop(asyncio.get_running_loop(), {}).values():
            await session.close()


async def close_all() -> None:
    """Close every pool's sessions of the running loop (when the service stops)."""
    for pool in list(_POOLS):
        await pool.close()
