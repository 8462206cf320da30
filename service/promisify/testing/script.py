"""What a fake job does, as its request's spec says, in one line a test can read.

    states=RUNNING:0.5,SUCCEEDED events=final rows=3 start=throttle:2 tag=7f3c...

- `states`: each state and how long it lasts (seconds); `*` holds it until the test moves the
  job (`FakeDependency.set_state`); the last state has no duration. Default RUNNING:0.2,SUCCEEDED.
- `events`: which state changes the fake posts to the mailbox: `all`, `final` or `none` (lost);
  `early` posts the first state's event, and waits for Restate to take it, before the start
  answers (so it lands before any waiter). `duplicates=N` sends every event N times.
- `rows`, `page_size`, `page_delay_s`: the result, read page by page, each page this slow.
- Faults, per call kind (`start`, `describe`, `results`): `throttle:N` (429 N times, nothing
  done), `lose:N` (done, but answered 503 N times), `fail:N` or `fail` (500 N times, or for
  good), `refuse` (4xx for good), `slow:S` (done, answered S seconds later).
- `reason`: the dependency's sentence for a FAILED or CANCELLED end. Unknown keys are refused.
"""

from dataclasses import dataclass, field
from typing import Literal

FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
KNOWN_STATES = frozenset({"QUEUED", "RUNNING", *FINAL_STATES})

FaultKind = Literal["none", "throttle", "lose", "fail", "refuse", "slow"]
EventsKind = Literal["all", "final", "none", "early"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind = "none"
    times: int | None = None  # None: every call
    delay_s: float = 0.0

    def applies(self, call_number: int) -> bool:
        """Whether the call numbered `call_number` (from 1) meets this fault."""
        return self.kind != "none" and (self.times is None or call_number <= self.times)


@dataclass(frozen=True)
class Script:
    # (state, seconds); None holds it until the test moves the job. The last has no duration.
    states: tuple[tuple[str, float | None], ...] = (("RUNNING", 0.2), ("SUCCEEDED", None))
    events: EventsKind = "all"
    duplicates: int = 1
    rows: int = 3
    page_size: int = 2
    page_delay_s: float = 0.0
    faults: dict[str, Fault] = field(default_factory=dict)
    reason: str | None = None

    def fault(self, kind: str) -> Fault:
        return self.faults.get(kind, Fault())

    def state_after(self, elapsed_s: float) -> str:
        """The state `elapsed_s` after the start, by the timeline alone."""
        for index, (state, seconds) in enumerate(self.states):
            if index == len(self.states) - 1 or seconds is None or elapsed_s < seconds:
                return state
            elapsed_s -= seconds
        raise AssertionError("a script has at least one state")

    def changes_at(self) -> list[float]:
        """When (seconds after the start) each state after the first begins, until a hold."""
        moments, at = [], 0.0
        for seconds in (seconds for _, seconds in self.states[:-1]):
            if seconds is None:
                break
            at += seconds
            moments.append(at)
        return moments


def parse_spec(spec: str) -> Script:
    """The script a spec describes; a ValueError whose sentence names the part it cannot read."""
    values: dict[str, object] = {}
    faults: dict[str, Fault] = {}
    for part in spec.split():
        key, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} is not key=value")
        if key == "states":
            values["states"] = tuple(_state(item) for item in value.split(","))
        elif key == "events":
            if value not in ("all", "final", "none", "early"):
                raise ValueError(f"events={value!r}: use all, final, none or early")
            values["events"] = value
        elif key in ("duplicates", "rows", "page_size"):
            values[key] = int(value)
        elif key == "page_delay_s":
            values[key] = float(value)
        elif key in ("start", "describe", "results"):
            faults[key] = _fault(key, value)
        elif key == "reason":
            values["reason"] = value.replace("_", " ")
        elif key != "tag":  # a tag only makes the spec unique to one test
            raise ValueError(f"{key!r} is not a known key of a fake job's spec")
    return Script(**values, faults=faults)  # type: ignore[arg-type]


def _state(item: str) -> tuple[str, float | None]:
    state, _, seconds = item.partition(":")
    if state not in KNOWN_STATES:
        raise ValueError(f"{state!r} is not a state ({', '.join(sorted(KNOWN_STATES))})")
    if not seconds:
        return state, 0.0 if state not in FINAL_STATES else None
    return state, None if seconds == "*" else float(seconds)


def _fault(key: str, value: str) -> Fault:
    kind, _, argument = value.partition(":")
    if kind == "slow":
        return Fault("slow", delay_s=float(argument))
    if kind in ("throttle", "lose", "fail"):
        return Fault(kind, int(argument) if argument else None)  # type: ignore[arg-type]
    if kind == "refuse":
        return Fault("refuse")
    raise ValueError(f"{key}={value!r}: use throttle:N, lose:N, fail[:N], refuse or slow:S")
