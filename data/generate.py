"""Write a larger demo table like the sample: `python data/generate.py --rows 100000 OUT.jsonl`.

Values and dates are strings, as in `sample.jsonl`, so the readers' casts are exercised too.
Test data goes to a temporary directory, never into the committed `data/`.
"""

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = date(2024, 1, 1)
    with path.open("w") as out:
        for i in range(rows):
            day = start + timedelta(days=i % 366)
            value = rng.randint(-1000, 1000)
            row = {"id": f"r{i:07d}", "date": day.isoformat(), "value": str(value)}
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .jsonl file to write")
    parser.add_argument("--rows", type=int, default=100_000, help="how many rows (default 100000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed, for repeatable data")
    args = parser.parse_args()
    if args.rows < 0:
        parser.error("--rows must be zero or more")
    generate(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
