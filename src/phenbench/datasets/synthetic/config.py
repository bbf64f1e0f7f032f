"""The synthetic world as a frozen, YAML-able config: cells, compounds, noise, sizes, counts.

A world says what cells look like in the control (the mean and cell-to-cell spread of each
morphological parameter), which compounds exist, at which concentrations they are imaged, and how
each moves its parameters along a Hill dose-response curve:

    parameter(cell, c) = mean + z_cell * sd + max_shift * c**h / (EC50**h + c**h)

where `z_cell` is the cell's own standard-normal draw, fixed for that cell under every condition
(this is what makes the true counterfactual well defined). Lengths are in pixels of a 64 x 64
reference field; a world rendered at another `image_size` is the same field at another resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phenbench.core.conditions import DOSE_SEPARATOR
from phenbench.core.config import config_from_dict, config_to_dict
from phenbench.core.errors import ConfigError

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 128
MAX_CELLS_PER_IMAGE = 4


def _check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}.")
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        raise ConfigError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value!r}.")


def _check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}.")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f"{minimum}"
        high = "" if maximum is None else f"{maximum}"
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}.")


@dataclass(frozen=True)
class Distribution:
    """A parameter's control-condition mean and its cell-to-cell standard deviation."""

    mean: float
    sd: float

    def __post_init__(self) -> None:
        _check_number("A distribution's mean", self.mean)
        _check_number("A distribution's sd", self.sd, minimum=0.0)


@dataclass(frozen=True)
class CellPopulation:
    """Control (DMSO) cells: each morphological parameter's distribution across cells.

    Radii are in reference pixels (64 x 64 field), intensities in [0, 1] of the channel's range,
    `organelle_dispersion` from 0 (puncta packed beside the nucleus) to 1 (scattered through the
    cytoplasm). `shape_irregularity` sets how far cell outlines depart from circles.
    """

    nucleus_radius: Distribution = Distribution(4.8, 0.45)
    cytoplasm_radius: Distribution = Distribution(11.5, 1.1)
    dna_intensity: Distribution = Distribution(0.8, 0.08)
    tubulin_intensity: Distribution = Distribution(0.42, 0.05)
    actin_intensity: Distribution = Distribution(0.8, 0.09)
    organelle_dispersion: Distribution = Distribution(0.1, 0.05)
    shape_irregularity: float = 0.07
    puncta_per_cell: int = 10

    def __post_init__(self) -> None:
        for name in PARAMETERS:
            if not isinstance(getattr(self, name), Distribution):
                raise ConfigError(f"cells.{name} must be a mapping with 'mean' and 'sd'.")
        _check_number("cells.shape_irregularity", self.shape_irregularity, minimum=0.0, maximum=0.3)
        if not isinstance(self.puncta_per_cell, int) or not 1 <= self.puncta_per_cell <= 40:
            raise ConfigError(f"cells.puncta_per_cell must be an integer from 1 to 40, got {self.puncta_per_cell!r}.")


# The morphological parameters a compound may move, in a fixed order (metadata columns, effects).
PARAMETERS: tuple[str, ...] = (
    "nucleus_radius",
    "cytoplasm_radius",
    "dna_intensity",
    "tubulin_intensity",
    "actin_intensity",
    "organelle_dispersion",
)


@dataclass(frozen=True)
class Effect:
    """One parameter a compound moves, and by how much at saturating concentration."""

    parameter: str
    max_shift: float

    def __post_init__(self) -> None:
        if self.parameter not in PARAMETERS:
            raise ConfigError(
                f"Unknown parameter {self.parameter!r} in a compound effect. Known: {', '.join(PARAMETERS)}."
            )
        _check_number(f"max_shift of {self.parameter}", self.max_shift)


@dataclass(frozen=True)
class Compound:
    """A treatment: its concentrations (increasing, in the world's unit) and Hill curve."""

    name: str
    concentrations: tuple[float, ...]
    ec50: float
    hill_slope: float
    effects: tuple[Effect, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or DOSE_SEPARATOR in self.name:
            raise ConfigError(f"A compound name must be a non-empty string without '{DOSE_SEPARATOR}', got {self.name!r}.")
        if not self.concentrations:
            raise ConfigError(f"Compound {self.name!r} needs at least one concentration.")
        for c in self.concentrations:
            _check_number(f"a concentration of {self.name!r}", c, minimum=0.0, strict=True)
        if any(b <= a for a, b in zip(self.concentrations, self.concentrations[1:])):
            raise ConfigError(f"Concentrations of {self.name!r} must increase strictly, got {list(self.concentrations)}.")
        _check_number(f"ec50 of {self.name!r}", self.ec50, minimum=0.0, strict=True)
        _check_number(f"hill_slope of {self.name!r}", self.hill_slope, minimum=0.0, strict=True)
        if not self.effects:
            raise ConfigError(f"Compound {self.name!r} needs at least one effect (parameter and max_shift).")
        moved = [e.parameter for e in self.effects]
        if len(set(moved)) != len(moved):
            raise ConfigError(f"Compound {self.name!r} lists a parameter twice in its effects: {moved}.")

    def hill(self, concentration: float) -> float:
        """The fraction of the maximal effect reached at `concentration` (0 for the control)."""
        return hill_fraction(concentration, self.ec50, self.hill_slope)


def hill_fraction(concentration: float, ec50: float, hill_slope: float) -> float:
    """c^h / (EC50^h + c^h), written as a logistic in log-concentration to stay finite."""
    if concentration <= 0:
        return 0.0
    return 1.0 / (1.0 + math.exp(hill_slope * (math.log(ec50) - math.log(concentration))))


@dataclass(frozen=True)
class NoiseConfig:
    """Imaging: background level, read noise, blur (reference pixels) and texture strength."""

    background: float = 0.03
    pixel: float = 0.02
    blur: float = 0.5
    texture: float = 1.0

    def __post_init__(self) -> None:
        _check_number("noise.background", self.background, minimum=0.0, maximum=0.5)
        _check_number("noise.pixel", self.pixel, minimum=0.0, maximum=0.5)
        _check_number("noise.blur", self.blur, minimum=0.0, maximum=4.0)
        _check_number("noise.texture", self.texture, minimum=0.0, maximum=2.0)


DEFAULT_COMPOUNDS: tuple[Compound, ...] = (
    # Shrinks the cell body and dims the cortical actin rim (a retraction phenotype).
    Compound(
        name="shrinkin",
        concentrations=(0.1, 0.3, 1.0, 3.0),
        ec50=1.0,
        hill_slope=1.5,
        effects=(Effect("cytoplasm_radius", -4.0), Effect("actin_intensity", -0.4)),
    ),
    # Disperses the compact perinuclear organelle into scattered puncta and enlarges the nucleus.
    Compound(
        name="dispersin",
        concentrations=(0.03, 0.1, 0.3, 1.0),
        ec50=0.2,
        hill_slope=2.0,
        effects=(Effect("organelle_dispersion", 0.75), Effect("nucleus_radius", 1.6)),
    ),
)


@dataclass(frozen=True)
class SyntheticConfig:
    """A synthetic world, rendered on the fly from `seed`: there are no files. `root` receives
    the CLI's `--data`: a YAML world file there is loaded as the world; anything else is ignored."""

    root: str | None = None
    seed: int = 0
    image_size: int = 64
    min_cells: int = 1
    max_cells: int = 3
    train_per_condition: int = 48
    test_per_condition: int = 16
    control: str = "DMSO"
    concentration_unit: str = "uM"
    compounds: tuple[Compound, ...] = DEFAULT_COMPOUNDS
    cells: CellPopulation = field(default_factory=CellPopulation)
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, minimum=0)
        _check_int("image_size", self.image_size, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE)
        _check_int("min_cells", self.min_cells, minimum=1, maximum=MAX_CELLS_PER_IMAGE)
        _check_int("max_cells", self.max_cells, minimum=self.min_cells, maximum=MAX_CELLS_PER_IMAGE)
        _check_int("train_per_condition", self.train_per_condition, minimum=1)
        _check_int("test_per_condition", self.test_per_condition, minimum=1)
        if not isinstance(self.control, str) or not self.control or DOSE_SEPARATOR in self.control:
            raise ConfigError(f"control must be a name without '{DOSE_SEPARATOR}', got {self.control!r}.")
        if not isinstance(self.cells, CellPopulation) or not isinstance(self.noise, NoiseConfig):
            raise ConfigError("cells and noise must be mappings of their own options (see docs/synthetic.md).")
        if not self.compounds or not all(isinstance(c, Compound) for c in self.compounds):
            raise ConfigError("compounds must be a non-empty list of compounds (name, concentrations, ec50, ...).")
        names = [c.name for c in self.compounds]
        if len(set(names)) != len(names) or self.control in names:
            raise ConfigError(f"Compound names must be unique and differ from the control {self.control!r}: {names}.")


def config_to_yaml(config: SyntheticConfig) -> str:
    """The world as YAML text that `SyntheticDataset.from_yaml` reads back to an equal config."""
    import yaml

    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def load_config_yaml(path: str | Path) -> SyntheticConfig:
    """Read a world from a YAML file (keys as in `SyntheticConfig`; omitted keys keep defaults)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"Synthetic world file {path} does not exist; give the path of a YAML world.") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"Synthetic world file {path} is not valid YAML ({first}).") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"Synthetic world file {path} must hold a mapping of options, not {type(data).__name__}.")
    return config_from_dict(SyntheticConfig, data, where=str(path))
