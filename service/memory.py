"""What the service process holds in memory, written on request (SIGUSR1), for benchmarks.

`make bench-scale` asks this to tell memory still held by Python objects (gc counts, live
objects by type, tracemalloc's traced size when `PYTHONTRACEMALLOC` is set, asyncio tasks)
from memory the allocator keeps after it was freed (glibc's `mallinfo2`: in use vs free
inside malloc's heaps; RSS from /proc). Off unless `SERVICE_MEMORY_REPORT` names a file:
each signal appends one JSON line there. Nothing here is on a request's path.
"""

import asyncio
import ctypes
import functools
import gc
import json
import os
import signal
import sys
import tempfile
import tracemalloc
from collections import Counter
from typing import Any

REPORT_ENV = "SERVICE_MEMORY_REPORT"
# How often freed memory is handed back to the system (glibc's malloc_trim): after a burst
# of open invocations has suspended, glibc keeps their freed pages mapped unless told.
TRIM_INTERVAL_S = 30.0


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it (its symbols are the process's own)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallinfo2") else None


def malloc_totals() -> dict[str, int] | None:
    """glibc's main-arena-and-threads totals in KiB: in use, free inside its heaps, mmapped."""
    libc = _libc()
    if libc is None:
        return None
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return {
        "heap_kb": info.arena // 1024,
        "in_use_kb": info.uordblks // 1024,
        "free_kb": info.fordblks // 1024,
        "mmapped_kb": info.hblkhd // 1024,
    }


def status_kb() -> dict[str, int]:
    wanted = {"VmRSS": "rss_kb", "RssAnon": "rss_anon_kb", "Threads": "threads"}
    found: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in wanted:
                found[wanted[key]] = int(value.split()[0])
    return found


def pymalloc_kb() -> dict[str, int]:
    """pymalloc's arenas (1 MiB each, mmapped, outside glibc's heaps): what is in blocks that
    are used, and what is free inside arenas it cannot give back while any block lives."""
    wanted = {
        "# arenas allocated current": "arenas",
        "# arenas highwater mark": "arenas_highwater",
        "# bytes in allocated blocks": "used_kb",
        "# bytes in available blocks": "free_in_pools_kb",
    }
    stderr = os.dup(2)
    with tempfile.TemporaryFile("w+") as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(stderr, 2)
            os.close(stderr)
        out.seek(0)
        lines = out.read().splitlines()
    found: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition("=")
        name = wanted.get(key.strip())
        if name:
            number = int(value.strip().replace(",", ""))
            found[name] = number // 1024 if name.endswith("_kb") else number
        elif "unused pools *" in line:
            found["unused_pools_kb"] = int(value.strip().replace(",", "")) // 1024
    return found


def mappings_kb() -> dict[str, int]:
    """Resident anonymous memory by kind of mapping, from /proc/self/smaps: glibc's main heap,
    thread stacks, and the rest (pymalloc's arenas, glibc's thread arenas, jemalloc's extents
    in granian, large blocks: adjacent mappings merge, so they cannot be told apart here)."""
    totals: Counter[str] = Counter()
    kind = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                name = fields[5] if len(fields) > 5 else ""
                if name == "[heap]":
                    kind = "heap"
                elif name.startswith("[stack"):
                    kind = "stack"
                elif name:
                    kind = None  # a file: code and data of libraries
                else:
                    kind = "anon"
            elif fields[0] == "Rss:" and kind is not None:
                totals[kind] += int(fields[1])
    return dict(totals)


def thread_names() -> dict[str, int]:
    names: Counter[str] = Counter()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names[comm.read().strip()] += 1
        except OSError:
            continue
    return dict(names)


def owners(objects: list[object], type_name: str, samples: int = 5) -> list[list[str]]:
    """What refers to a few live objects of one type, two levels up (investigation only)."""
    found = [obj for obj in objects if type(obj).__qualname__ == type_name][-samples:]
    chains = []
    for obj in found:
        chain = [repr(obj)[:120]]
        for ref in gc.get_referrers(obj)[:4]:
            if ref is objects or ref is found:
                continue
            ups = [type(up).__qualname__ for up in gc.get_referrers(ref)[:4] if up is not objects]
            chain.append(f"{type(ref).__qualname__} {repr(ref)[:120]} <- {ups}")
        chains.append(chain)
    return chains


def report(top: int = 15) -> dict[str, Any]:
    """One snapshot of where the process's memory is."""
    objects = gc.get_objects()
    types = Counter(type(obj).__qualname__ for obj in objects)
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # no running loop
        tasks = -1
    snapshot: dict[str, Any] = {
        **status_kb(),
        "gc_tracked_objects": len(objects),
        "gc_counts": gc.get_count(),
        "gc_frozen_objects": gc.get_freeze_count(),
        "gc_thresholds": gc.get_threshold(),
        "top_types": types.most_common(top),
        "asyncio_tasks": tasks,
        "malloc": malloc_totals(),
        "pymalloc": pymalloc_kb(),
        "mappings": mappings_kb(),
        "thread_names": thread_names(),
        "traced_kb": None,
    }
    sample = os.environ.get("SERVICE_MEMORY_OWNERS")
    if sample:
        snapshot["owners"] = owners(objects, sample)
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        snapshot["traced_kb"], snapshot["traced_peak_kb"] = current // 1024, peak // 1024
        stats = tracemalloc.take_snapshot().statistics("filename")[:top]
        snapshot["traced_by_file"] = [(str(stat.traceback), stat.size // 1024) for stat in stats]
    return snapshot


def release_freed_memory() -> bool:
    """Give glibc's free pages back to the system (every arena, not only the heap's top)."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


async def release_freed_memory_every(interval_s: float = TRIM_INTERVAL_S) -> None:
    """Forever: trim every `interval_s`. It walks glibc's free lists, about a millisecond for
    the heap a burst of a thousand open invocations leaves (docs/benchmarks.md)."""
    if _libc() is None:
        return
    while True:
        await asyncio.sleep(interval_s)
        release_freed_memory()


def install(loop: asyncio.AbstractEventLoop) -> None:
    """With SERVICE_MEMORY_REPORT set: on SIGUSR1, append a report to that file."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return

    def write() -> None:
        with open(path, "a") as out:
            out.write(json.dumps({"pid": os.getpid(), **report()}) + "\n")

    loop.add_signal_handler(signal.SIGUSR1, write)
