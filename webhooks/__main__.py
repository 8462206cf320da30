"""`python -m webhooks public-key | new-key`: the keys an operator hands out or makes.

`public-key` reads the service's own setting, `WEBHOOK_SECRET` (or `--secret`), and prints
the `whpk_` public key of each `whsk_` key in it, one a line: what a receiver is given.
`new-key` prints a fresh `whsk_` key on stdout (and its public key on stderr).
"""

import argparse
import os
import sys

from webhooks.keys import DEV_WEBHOOK_SECRET, InvalidSecret, SigningKeys, new_signing_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webhooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    public = commands.add_parser("public-key", help="print the whpk_ key of each whsk_ key")
    public.add_argument("--secret", help="the keys (default: $WEBHOOK_SECRET, as the service)")
    commands.add_parser("new-key", help="print a new whsk_ signing key")
    args = parser.parse_args(argv)

    if args.command == "new-key":
        key = new_signing_key()
        print(key)
        (public_key,) = SigningKeys.parse(key).public_key_texts
        print(f"its public key: {public_key}", file=sys.stderr)
        return 0
    secret = args.secret or os.environ.get("WEBHOOK_SECRET") or DEV_WEBHOOK_SECRET
    try:
        keys = SigningKeys.parse(secret, signing=True)
    except InvalidSecret as error:
        print(f"error: WEBHOOK_SECRET: {error}", file=sys.stderr)
        return 2
    if not keys.signing_keys:
        print(
            "error: WEBHOOK_SECRET holds no whsk_ key, so the service signs with v1 (a shared "
            "secret) only: there is no public key. Add one made by `python -m webhooks new-key`.",
            file=sys.stderr,
        )
        return 2
    # Only the signing keys' own public keys: `keys.public_keys` is empty for a sender.
    print("\n".join(keys.public_key_texts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
