"""Capped exponential backoff, shared by the sweeper and the webhook sender."""


def backoff_delay(
    first_s: float, max_s: float, attempt: int, *, growth: float = 2.0, jitter: float | None = None
) -> float:
    """The wait before retry `attempt` (0-based): `first_s * growth**attempt`, at most `max_s`.

    With `jitter` (a number in [0, 1), from `ctx.random()` so replays agree) the wait is drawn
    from the upper half of that ceiling: senders spread out, but never retry at once.
    """
    ceiling = min(max_s, first_s * growth ** min(attempt, 64))
    if jitter is None:
        return ceiling
    return ceiling / 2 + jitter * ceiling / 2
