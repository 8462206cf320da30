"""restate-server sized for the local stack, over the pinned version's defaults (1.7.12).

Measured with `make bench` on this project's 2 cores (docs/benchmarks.md, docs/cluster.md):
restate-server's defaults are a production node's (24 partitions, each a processor with a
thread of its own), and on a small machine those threads cost more CPU per query than the
work itself. Each key is a key of restate.toml and, the same, an environment variable
`RESTATE_<KEY>` (`default-num-partitions` is `RESTATE_DEFAULT_NUM_PARTITIONS`); a variable
already set in the environment wins, so a run can compare against the defaults.

The number of partitions is fixed when a cluster is first provisioned: a base directory that
was started with another count keeps it (start from a fresh one to change it).

A nested key is written dotted (`worker.invoker.inactivity-timeout`): in restate.toml that is
the `[worker.invoker]` table, and its variable joins the levels with `__`
(`RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT`).
"""

from collections.abc import Mapping

# How long an invocation that waits on nothing but Restate (a parked promise on its awakeable,
# `query/query` on the promise) stays open in the service before Restate asks it to suspend.
# With the default 1m, every promise parked in the last minute stays open (its coroutine, the
# SDK's state machine, an HTTP/2 stream: about 50 KB of the service's memory each), and the
# open `query/query` calls fill the invoker's 1000 concurrent invocations, so the promises
# they wait on (and the sweeper's sweeps) wait a minute for a slot: 2,000 parked in 190 s, and
# 30 s with 5s (docs/benchmarks.md, "Memory per parked promise"). Suspending loses nothing:
# the journal has every step. A step still running when it fires finishes (abort-timeout,
# 10m by default, is untouched) and the invocation suspends after it, to resume by a replay
# (tests/test_inactivity_timeout.py); a query that ends within 5 s never suspends at all.
INACTIVITY_TIMEOUT = "5s"
INACTIVITY_TIMEOUT_VARIABLE = "RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT"
# How many invocations the node keeps open in the service at once (1000 by default). A burst
# of submissions opens that many before the first suspend, and the service's allocators keep
# the high-water mark of that burst afterwards (about 50 KB an open invocation): with 500,
# 5,000 parked promises left 7.4 KB each in the service instead of 10.6, and parked in 101 s
# instead of 69 (docs/benchmarks.md, "Memory per parked promise"). 100 queries in flight
# keep about 300 open.
CONCURRENT_INVOCATIONS = 500
INVOKER: dict[str, object] = {
    "worker.invoker.inactivity-timeout": INACTIVITY_TIMEOUT,
    "worker.invoker.concurrent-invocations-limit": CONCURRENT_INVOCATIONS,
}

# One node on a small machine: one partition processor does all the work on one thread, with
# no cross-partition hops for the promise's calls between its objects. Its log in the node's
# own RocksDB (the local loglet, fsynced like the replicated one's log server) rather than
# through the replicated loglet's sequencer and log-server path: a fifth less restate-server
# CPU a query (docs/benchmarks.md). Single node only; without this setting a restart moves the
# log to the replicated loglet by itself (a new segment), which a cluster needs.
SINGLE_NODE: dict[str, object] = {
    "default-num-partitions": 1,
    "bifrost.default-provider": "local",
    **INVOKER,
}

# The single node's log is not fsynced at each append, on the local stack only: it runs on a
# developer's machine and in tests, where restate-server is stopped and crashed (the fault
# tests SIGKILL it) but the machine stays up. A killed process loses nothing this way: its
# writes are in the kernel's page cache, which outlives it; a power loss or a kernel crash
# could lose the last appends. Each hop of a promise through the log waits for one fsync
# less: a query's overhead at 1 in flight fell from about 33 to 27 ms (docs/benchmarks.md,
# "The fifth round"). A production node keeps fsync, Restate's default: it must outlive its
# machine. `python -m infra.local up --fsync-log` runs the local stack as production would.
UNSYNCED_LOG: dict[str, object] = {"bifrost.local.rocksdb-disable-wal-fsync": True}

# Three nodes: each partition runs a leader and a follower (replication 2), so every one
# costs threads on two nodes; 3 (one for each node to lead) took a fifth less CPU a query than
# 8, but leaders do not move back to a node that returns, so after one failover a node could
# lead nothing and the next drill of it tested nothing (docs/cluster.md). 8 keeps leaders on
# every node as nodes go and come back; 24 cost a third more than 8.
CLUSTER_PARTITIONS = 8
CLUSTER: dict[str, object] = {
    "default-num-partitions": CLUSTER_PARTITIONS,
    **INVOKER,
}


def environment(settings: Mapping[str, object]) -> dict[str, str]:
    """The settings as restate-server's environment variables (`section.key` nested: `__`)."""
    return {
        "RESTATE_" + key.upper().replace("-", "_").replace(".", "__"): _text(value)
        for key, value in settings.items()
    }


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# The variable that turns the log's fsync off (what the bench flips for production's row).
(FSYNC_VARIABLE,) = environment(UNSYNCED_LOG)
