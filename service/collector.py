"""The service's cyclic garbage collector kept off the heap the endpoint was built with.

Everything alive once the endpoint is built (the SDK, pydantic's schemas, the endpoint
itself: about 80,000 objects) lives as long as the process, yet each full collection walked
it again: 90 to 130 ms of CPU, in the middle of whatever invocations were running. Frozen,
it is never walked: a full collection takes 11 to 40 ms, and the collector's work a pushed
query falls from 1.1 to 1.4 ms to 0.7 to 1.3 (docs/benchmarks.md, "The seventh round").
CPython's thresholds stay: collecting the young generation 14 times less often saved
another 0.8 ms a query, but after a burst of 5,000 parked promises the service kept 10.5 KB a
promise instead of 7.4, past the 10 KB it may. Each suspended `query/query` is a reference
cycle in the SDK (its future, its task, the exception's traceback) that only a collection
frees, and the rarer they come, the more of them the allocators must hold at once.
"""

import gc


def settle_startup_heap() -> None:
    """Once the endpoint is built and before it serves: what is alive now is moved where no
    collection looks. What of it becomes garbage later is freed by reference counting, or,
    in a cycle, never: so this runs once, on what lives as long as the process."""
    gc.collect()
    gc.freeze()
