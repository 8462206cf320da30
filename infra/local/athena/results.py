"""Result files: each successful SELECT written as the CSV Athena writes to `OutputLocation`.

Athena quotes the header and every value, doubles quotes inside values, and writes NULL as an
empty, unquoted field. The local Athena writes the same bytes to a local folder instead of S3:
`s3://bucket/key` is `<results dir>/bucket/key`, so a user can open what a query returned.
"""

from collections.abc import Iterable
from pathlib import Path, PurePosixPath


def local_path_for(output_location: str, results_dir: Path | str) -> Path:
    """Where the local Athena keeps the object an `s3://bucket/key` output location names.

    Raises ValueError for anything but an s3:// URL whose key stays inside `results_dir`.
    """
    scheme, _, rest = output_location.partition("://")
    if scheme != "s3" or not rest:
        raise ValueError(f"not an s3:// output location: {output_location!r}")
    parts = PurePosixPath(rest).parts
    if any(part in ("..", ".") for part in parts):
        raise ValueError(f"output location may not contain '.' or '..': {output_location!r}")
    return Path(results_dir).joinpath(*parts)


def csv_line(values: Iterable[str | None]) -> str:
    """One CSV line the way Athena writes it: every value quoted, NULL as nothing."""
    return (
        ",".join("" if value is None else '"' + value.replace('"', '""') + '"' for value in values)
        + "\n"
    )


def write_csv(path: Path, header: list[str], pages: Iterable[list[list[str | None]]]) -> None:
    """Write to a temporary name first, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        out.write(csv_line(header))
        for page in pages:
            out.writelines(csv_line(row) for row in page)
    partial.replace(path)
