"""Capped exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the capped exponential) spreads out the
retries of many clients that failed together, instead of having them retry in step.
Not `service.backoff`: a client is deployed apart from the service and imports none of it.
"""

import random
from dataclasses import dataclass, field

# The first retry waits up to BASE_DELAY_S; each failure doubles that, up to MAX_DELAY_S.
BASE_DELAY_S = 0.25
MAX_DELAY_S = 5.0

# Past this many doublings the cap has long been reached; stops 2**n growing without bound.
_MAX_EXPONENT = 32


@dataclass
class Backoff:
    rng: random.Random = field(default_factory=random.Random)
    base_s: float = BASE_DELAY_S
    cap_s: float = MAX_DELAY_S

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` consecutive failures (1 for the first)."""
        exponent = min(max(failures - 1, 0), _MAX_EXPONENT)
        return min(self.cap_s, self.base_s * 2**exponent)

    def delay(self, failures: int) -> float:
        """A wait in seconds, drawn uniformly between zero and the ceiling."""
        return self.rng.uniform(0.0, self.ceiling(failures))
