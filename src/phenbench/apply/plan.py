"""What a translation job will write: one row per output file, known before anything runs.

Planning first means every process agrees on the work (and so on the shards), a killed run can
tell what is missing by looking for files, and the manifest is the plan's rows that exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from phenbench.core.errors import DataError
from phenbench.imaging.files import safe_name

SERIES_DIR = "series"
DIFFERENCE_DIR = "differences"


@dataclass(frozen=True)
class Output:
    """One file the job writes."""

    input: Path
    kind: str  # "translated", "difference", or a dose series' "figure", "figure-svg"/"figure-pdf", "panels", "gif"
    target: str  # a condition name, or the compound of a dose series
    path: Path  # relative to the output folder


def relative_name(path: Path, root: Path) -> Path:
    """Where an input sits under the `--images` folder (just its name for a single file)."""
    return path.relative_to(root) if root.is_dir() else Path(path.name)


def plan_outputs(
    files: Sequence[Path],
    root: Path,
    targets: Sequence[str],
    *,
    series_compound: str | None,
    differences: bool,
    vector: Sequence[str] = (),
) -> dict[Path, list[Output]]:
    """Input file -> the outputs it produces, in a fixed order."""
    plan: dict[Path, list[Output]] = {}
    seen: dict[Path, Path] = {}
    for file in files:
        relative = relative_name(file, root)
        outputs = [Output(file, "translated", t, Path(safe_name(t)) / relative) for t in targets]
        if differences:
            outputs += [
                Output(file, "difference", t, Path(DIFFERENCE_DIR) / safe_name(t) / relative.with_suffix(".tif"))
                for t in targets
            ]
        if series_compound is not None:
            folder = Path(SERIES_DIR) / safe_name(series_compound)
            outputs.append(Output(file, "figure", series_compound, folder / relative.with_suffix(".png")))
            outputs += [Output(file, f"figure-{fmt}", series_compound, folder / relative.with_suffix(f".{fmt}"))
                        for fmt in vector]
            outputs.append(Output(file, "panels", series_compound, folder / relative.with_suffix(".npy")))
            outputs.append(Output(file, "gif", series_compound, folder / relative.with_suffix(".gif")))
        for output in outputs:
            if output.path in seen:
                raise DataError(
                    f"{file} and {seen[output.path]} would both write {output.path}; "
                    "rename one of them (they differ only in their suffix)."
                )
            seen[output.path] = file
        plan[file] = outputs
    return plan


def contact_sheet_paths(compound: str, vector: Sequence[str] = ()) -> list[Path]:
    """The contact sheet of a dose series (PNG, then its vector files): beside the series' folder,
    so no input's name can collide with it."""
    png = Path(SERIES_DIR) / f"{safe_name(compound)}_contact_sheet.png"
    return [png] + [png.with_suffix(f".{fmt}") for fmt in vector]
