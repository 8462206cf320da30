"""Which function an Invoke call names: Lambda accepts a name, a partial ARN or a full ARN,
each with an optional `:qualifier` (version or alias), or the qualifier as `?Qualifier=`.

restate-server sends the full ARN of the registered version, URL-encoded, as the path segment
(`arn:aws:lambda:us-east-1:123456789012:function:athena-promise:1`) and no `Qualifier`.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .config import EndpointConfig

_QUALIFIER = re.compile(r"^(\$LATEST|[0-9]+|[a-zA-Z0-9_-]+)$")


@dataclass(frozen=True)
class Target:
    name: str
    qualifier: str | None

    @property
    def executed_version(self) -> str:
        """What `X-Amz-Executed-Version` says: a version number, or $LATEST."""
        return self.qualifier if self.qualifier and self.qualifier.isdigit() else "$LATEST"


class UnknownFunction(LookupError):
    """No function of this endpoint answers to the name; the message is Lambda's."""


def resolve(config: EndpointConfig, raw: str, query_qualifier: str | None = None) -> Target:
    """The function and qualifier `raw` names, or UnknownFunction."""
    text = unquote(raw)
    parts = text.split(":")
    if text.startswith("arn:"):
        # arn:partition:lambda:region:account:function:name[:qualifier]
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
            raise UnknownFunction(f"Function not found: {text}")
        if parts[3] != config.region or parts[4] != config.account:
            raise UnknownFunction(f"Function not found: {text}")
        name, qualifier = parts[6], parts[7] if len(parts) == 8 else None
    elif len(parts) >= 3 and parts[1] == "function":
        # account:function:name[:qualifier]
        if parts[0] != config.account or len(parts) > 4:
            raise UnknownFunction(f"Function not found: {text}")
        name, qualifier = parts[2], parts[3] if len(parts) == 4 else None
    else:
        if len(parts) > 2:
            raise UnknownFunction(f"Function not found: {text}")
        name, qualifier = parts[0], parts[1] if len(parts) == 2 else None
    if query_qualifier:
        if qualifier and qualifier != query_qualifier:
            raise UnknownFunction(
                f"The derived qualifier from the function name does not match the specified "
                f"qualifier: {qualifier} != {query_qualifier}"
            )
        qualifier = query_qualifier
    if name not in config.functions or (qualifier and not _QUALIFIER.match(qualifier)):
        arn = config.function_arn(name) + (f":{qualifier}" if qualifier else "")
        raise UnknownFunction(f"Function not found: {arn}")
    return Target(name, qualifier)
