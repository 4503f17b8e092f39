"""Export the listed rows to a CSV or JSON file, written like every file portwatch writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from portwatch.core.files import write_atomic
from portwatch.core.formats import to_csv, to_json
from portwatch.core.model import Listener


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def export_format_for(path: str | Path, chosen_filter: str = "") -> ExportFormat:
    """The file's format: a .csv/.json suffix, else the dialog's chosen filter, else CSV."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".json"):
        return ExportFormat(suffix[1:])
    return ExportFormat.JSON if "json" in chosen_filter.lower() else ExportFormat.CSV


def export_text(listeners: Iterable[Listener], fmt: ExportFormat) -> str:
    """The file's text; times are ISO 8601 local time, for the person who opens it
    (``list --json`` keeps epoch seconds for scripts)."""
    if fmt is ExportFormat.JSON:
        return to_json(listeners, iso_times=True) + "\n"
    return to_csv(listeners, iso_times=True)


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int
    fmt: ExportFormat
    error: str | None = None

    def message(self) -> str:
        if self.error:
            return f"Could not export to {self.path}: {self.error}"
        return f"Exported {self.rows} rows to {self.path} ({self.fmt.value.upper()})."


def export_listeners(
    listeners: Sequence[Listener], path: str | Path, fmt: ExportFormat | None = None
) -> ExportResult:
    """Write the rows to ``path`` atomically and privately (0600, like every file we write).

    A failed write never leaves half a file; the folder must exist (the user picked it).
    """
    target = Path(path)
    chosen = fmt or export_format_for(target)
    if chosen is ExportFormat.JSON and not target.suffix:
        target = target.with_suffix(".json")
    elif chosen is ExportFormat.CSV and not target.suffix:
        target = target.with_suffix(".csv")
    try:
        write_atomic(target, export_text(listeners, chosen), make_folder=False)
    except OSError as exc:
        return ExportResult(target, len(listeners), chosen, exc.strerror or str(exc))
    return ExportResult(target, len(listeners), chosen)
