"""The runner's config: one frozen dataclass, loadable from YAML, with the CLI's flags on top."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phenbench.core.config import config_from_dict
from phenbench.core.errors import ConfigError

PAIR_MODES = ("all", "from-control")


@dataclass(frozen=True)
class RunConfig:
    """Everything `phenbench run` needs; saved in the results store with the run."""

    translator: str = "identity"
    dataset: str = "synthetic"
    data: str | None = None  # the dataset's root (--data), where the adapter reads files
    preset: str | None = None  # a translator preset: quick, small, paper
    translator_config: dict[str, Any] = field(default_factory=dict)  # overrides on the preset
    dataset_config: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] | None = None  # None: the default metrics the dataset supports
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "all": every source to every other condition; "from-control": DMSO to each (the paper's
    # set); or explicit [source, target] name pairs.
    pairs: str | tuple[tuple[str, str], ...] = "all"
    seed: int = 0
    device: str = "auto"
    store: str = "results.h5"
    checkpoint: str | None = None  # load a trained translator instead of fitting
    work_dir: str = "runs"  # checkpoints and the trained model of each fit go under here
    checkpoint_every: int | None = None
    resume: bool = True  # continue from the checkpoints of an earlier, killed fit with the same settings
    batch_size: int = 32
    max_test_per_condition: int | None = None
    samples_per_condition: int = 8
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.pairs, str) and self.pairs not in PAIR_MODES:
            raise ConfigError(f"pairs must be one of {', '.join(PAIR_MODES)} or a list of [source, target], got {self.pairs!r}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}")


def load_run_config(path: str | Path | None, **overrides: Any) -> RunConfig:
    """Read a run YAML (if given) and apply the CLI's overrides (those not None)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"Run config {path} does not exist. Pass an existing YAML file to --config.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"Run config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Run config {path} must be a mapping of options, got {type(data).__name__}.")
    data.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(data.get("metrics"), str):
        data["metrics"] = tuple(m.strip() for m in data["metrics"].split(",") if m.strip())
    if isinstance(data.get("pairs"), list):
        data["pairs"] = tuple(tuple(p) for p in data["pairs"])
    return config_from_dict(RunConfig, data, where=str(path) if path else "run options")
