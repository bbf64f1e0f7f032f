"""What a translate job is, kept in its output folder.

`phenbench translate` resumes by skipping outputs that already exist. That is only right when they
came from the same job: a second model, source condition or intensity map writing into the same
folder would otherwise find the first job's files and skip them as done, silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from phenbench.core.errors import ConfigError

JOB_FILE = ".phenbench-job.json"
FIGURE_KEY = "figure"
SETTINGS_KEY = "settings"


def job_identity(checkpoint: Path, translator: str, source: str, normalization: str, seed: int,
                 figure: dict[str, object] | None = None, settings: dict[str, object] | None = None) -> dict[str, object]:
    """The settings that decide an output's pixels (targets may grow between runs: each has its own
    files). `figure`: how a dose series' figures look, where the job draws any. `settings`: the
    model's translation settings the job changed (--setting), where it changed any."""
    job: dict[str, object] = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "translator": translator,
        "source": source,
        "normalization": normalization,
        "seed": seed,
    }
    if figure is not None:
        job[FIGURE_KEY] = figure
    if settings:
        job[SETTINGS_KEY] = settings
    return job


def claim_output_folder(out: Path, job: dict[str, object], *, write: bool) -> None:
    """Refuse a folder holding another job's outputs; record this job there (if `write`)."""
    path = out / JOB_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_text())
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ConfigError(
                f"{path} cannot be read ({str(exc).splitlines()[0]}), so {out} may hold another job's outputs; "
                "use a new --out (or delete that folder to start over)."
            ) from None
        # A job that drew no figures yet may start to: its record gains the figure settings.
        adds_figures = FIGURE_KEY in job and FIGURE_KEY not in stored
        # A key only the stored job has (settings it changed) differs too; figures may stop being drawn.
        keys = [*job, *(key for key in stored if key not in job and key != FIGURE_KEY)]
        differing = [key for key in keys if stored.get(key) != job.get(key) and not (key == FIGURE_KEY and adds_figures)]
        if differing:
            what = "; ".join(f"{key} {stored.get(key)!r} there, {job.get(key)!r} now" for key in differing)
            raise ConfigError(
                f"{out} holds the outputs of another translate job ({what}): they would be skipped as done. "
                f"Use a new --out, or delete {out} to start over."
            )
        if not adds_figures:
            return
        job = {**stored, FIGURE_KEY: job[FIGURE_KEY]}
    if write:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f".{JOB_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(job, indent=2) + "\n")
        tmp.replace(path)
