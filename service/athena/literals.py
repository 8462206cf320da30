"""Query parameters as Athena reads them: each `ExecutionParameters` item is one SQL literal.

Athena pastes nothing: it reads each item as a literal and binds it to the next `?`. A string
must arrive quoted (`'O''Brien'`), so a caller who sends raw user input would be refused or,
worse, would have to quote by hand. Here a JSON value becomes its literal once, the only way:
a string single-quoted with its quotes doubled, an integer or a finite number as written, a
boolean as `true`/`false`. No Restate, no boto3.
"""

import math

from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr

# The JSON values a caller may give; booleans first, so `true` is never read as 1.
Parameter = StrictBool | StrictInt | StrictFloat | StrictStr
# Athena's ExecutionParameter: a string of 1 to 1024 characters. The API sets no count; the
# console stops at 25. The service keeps a request's list bounded (it is journaled and sent).
MAX_LITERAL_CHARS = 1024
MAX_PARAMETERS = 256
# Trino's bigint: an integer literal outside it is not a bigint.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def literal_for(value: Parameter) -> str:
    """The SQL literal Athena reads for `value`; ValueError if there is none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            raise ValueError(f"{value} is outside Athena's bigint range")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number (NaN and Infinity are refused)")
        # repr is the shortest exact form: 0.1 stays 0.1 (a decimal literal in Trino),
        # 1e-07 stays an exponent (a double literal).
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ValueError(f"{value!r} is not a string, a number or a boolean")
