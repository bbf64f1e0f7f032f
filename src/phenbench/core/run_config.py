"""The runner's config: one frozen dataclass, loadable from YAML, with the CLI's flags on top."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phenbench.core.config import coerce_fields, config_from_dict
from phenbench.core.errors import ConfigError

PAIR_MODES = ("all", "from-control")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|(cuda|xpu)(:\d+)?")


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
    # With pairs from-control: draw each translated control from the plate of the real target
    # image it is compared with (core/batch_pairs.py). None: the dataset's default (on for
    # bbbc021 and bbbc021-impa, falling back, recorded, where a plate has no control test image).
    match_batches: bool | None = None
    protocol: str | None = None  # the shipped protocol (src/phenbench/protocols/) these options came from
    seed: int = 0  # training: initialisation, data order, sampling
    # Evaluation: which test rows are scored (above max_test_per_condition), subsamples and
    # bootstrap resamples of the metrics. Fixed apart from the training seed, so that methods
    # trained with different seeds are scored on the same images.
    eval_seed: int = 0
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
        # Checked once, here, where every run config is built (YAML, flags or Python): a wrong
        # type or value is one line naming the field, not a TypeError hours into a fit.
        coerce_fields(self, "run config")
        for name in ("translator", "dataset", "store", "work_dir"):
            if not getattr(self, name).strip():
                raise ConfigError(f"{name} must not be empty.")
        if isinstance(self.pairs, str) and self.pairs not in PAIR_MODES:
            raise ConfigError(f"pairs must be one of {', '.join(PAIR_MODES)} or a list of [source, target], got {self.pairs!r}.")
        _at_least("seed", self.seed, 0, "")
        _at_least("eval_seed", self.eval_seed, 0, "")
        _at_least("batch_size", self.batch_size, 1, "")
        _at_least("max_test_per_condition", self.max_test_per_condition, 1, " (0 would score nothing)")
        _at_least("samples_per_condition", self.samples_per_condition, 0, "")
        _at_least("checkpoint_every", self.checkpoint_every, 1, "")
        if not DEVICE_PATTERN.fullmatch(self.device):
            raise ConfigError(f"device must be auto, cpu, cuda, cuda:N, mps or xpu:N, got {self.device!r}.")


def _at_least(name: str, value: int | None, minimum: int, why: str) -> None:
    if value is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}{why}, got {value}.")


def load_run_config(path: str | Path | None, **overrides: Any) -> RunConfig:
    """Read a run YAML (if given) and apply the CLI's overrides (those not None), on top of the
    shipped protocol's options where one is named (`protocol`, in the YAML or the overrides)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"Run config {path} does not exist. Pass an existing YAML file to --config.")
        if not path.is_file():
            raise ConfigError(f"Run config {path} is a folder, not a YAML file. Pass the file to --config.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"Run config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Run config {path} cannot be read ({exc}); pass a YAML text file to --config.") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Run config {path} must be a mapping of options, got {type(data).__name__}.")
    data.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(data.get("metrics"), str):
        data["metrics"] = tuple(m.strip() for m in data["metrics"].split(",") if m.strip())
    if data.get("protocol") is not None:
        data = _on_protocol(data)
    return config_from_dict(RunConfig, data, where=f"run config {path}" if path else "run options")


def _on_protocol(data: dict[str, Any]) -> dict[str, Any]:
    """The protocol's run options with `data` on top; its metric options for metrics the user
    dropped are dropped too (they would name metrics that are not computed)."""
    from phenbench.protocols import load_protocol, merge_run_options

    if not isinstance(data["protocol"], str):
        raise ConfigError(f"protocol must be a protocol name, got {data['protocol']!r}.")
    protocol = load_protocol(data["protocol"])
    merged = merge_run_options(protocol.run, data)
    chosen = merged.get("metrics")
    if chosen is not None and isinstance(merged.get("metric_options"), dict):
        mine = set((data.get("metric_options") or {}))
        merged["metric_options"] = {k: v for k, v in merged["metric_options"].items() if k in chosen or k in mine}
    return merged
