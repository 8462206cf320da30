"""The service's cyclic garbage collector: off the heap the endpoint was built with, and
seldom on the young generation.

Everything alive once the endpoint is built (the SDK, pydantic's schemas, the endpoint
itself: about 80,000 objects) lives as long as the process, yet each full collection walked
it again: 90 to 130 ms of CPU, in the middle of whatever invocations were running. Frozen,
it is never walked: a full collection takes 11 to 40 ms.

What an invocation allocates is freed by reference counting as soon as it ends, so the young
generation is collected every 10,000 allocations instead of CPython's 700: the collector's
work a pushed query falls from 0.7 to 1.1 ms to 0.1 to 0.2 (docs/benchmarks.md, "The eighth
round"). That holds only while suspended invocations leave no cycles behind. While each
suspended front still did (restate-sdk's lazy future, see service/promisify/awaiting.py),
collections this rare let a burst of 5,000 parked promises hold 10.5 KB of the service's
memory a promise; without the cycle, 4.8 (4.5 at CPython's threshold).
"""

import gc

# Container allocations (net of frees) between two collections of the youngest generation.
YOUNG_THRESHOLD = 10_000


def settle_startup_heap() -> None:
    """Once the endpoint is built and before it serves: what is alive now is moved where no
    collection looks. What of it becomes garbage later is freed by reference counting, or,
    in a cycle, never: so this runs once, on what lives as long as the process."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
