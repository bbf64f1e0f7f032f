"""`--dataset synthetic`: a procedural world of cells with known ground truth.

Images are rendered on the fly, deterministically from (world seed, split, row), and kept in an
in-memory cache. Every image carries its cells' ground-truth parameters (`metadata`,
`cell_table`), and the same cells can be rendered under any condition of the world
(`counterfactuals`): the image the target condition would really have produced, which metrics
compare translations with. `phenotype_readouts` measures the ground-truth phenotype on images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from phenbench.core.conditions import ConditionSet, condition_name
from phenbench.core.config import config_to_dict
from phenbench.core.dataset import DataSpec, PreparedDataset
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.synthetic.config import PARAMETERS, SyntheticConfig, load_config_yaml
from phenbench.datasets.synthetic.readouts import READOUT_OF_PARAMETER, PhenotypeReadouts
from phenbench.datasets.synthetic.render import CHANNELS, render_field
from phenbench.datasets.synthetic.world import REFERENCE_SIZE, SPLIT_CODES, Treatment, cell_parameters, draw_identity

# Bump when a change to the generator changes any pixel: it is part of the content hash, so runs
# on the old and new world are never mistaken for runs on the same data.
GENERATOR_VERSION = "1"
CACHE_LIMIT_BYTES = 1 << 30  # splits larger than this are rendered on every read instead


class SyntheticDataset(PreparedDataset):
    """The synthetic world of `SyntheticConfig`: DMSO first, then each compound in dose order."""

    name = "synthetic"
    config_class: ClassVar[type] = SyntheticConfig
    has_counterfactuals: ClassVar[bool] = True

    def __init__(self, config: SyntheticConfig | None = None):
        config = SyntheticConfig() if config is None else config
        if not isinstance(config, SyntheticConfig):
            raise ConfigError(f"SyntheticDataset takes a SyntheticConfig, got {type(config).__name__}.")
        self.config = config = world_from_root(config)
        self._treatments = [Treatment()] + [
            Treatment(compound, c) for compound in config.compounds for c in compound.concentrations
        ]
        names = [config.control] + [
            condition_name(compound.name, c) for compound in config.compounds for c in compound.concentrations
        ]
        if len(set(names)) != len(names):
            raise ConfigError(
                "Two concentrations of a compound print to the same condition name (6 significant digits): "
                f"{names}. Space the concentrations further apart."
            )
        self._spec = DataSpec(CHANNELS, config.image_size, ConditionSet(names, control=config.control))
        counts = {"train": config.train_per_condition, "test": config.test_per_condition}
        self._labels = {split: np.repeat(np.arange(len(names), dtype=np.int64), n) for split, n in counts.items()}
        self._cache: dict[str, np.ndarray] = {}
        self._rendered: dict[str, np.ndarray] = {}  # per split: which rows of the cache are filled
        self._readouts = PhenotypeReadouts(config)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SyntheticDataset":
        """The world described by a YAML file (see docs/synthetic.md for an example)."""
        return cls(load_config_yaml(path))

    # --- PreparedDataset --------------------------------------------------------------------

    @property
    def spec(self) -> DataSpec:
        return self._spec

    def splits(self) -> list[str]:
        return list(SPLIT_CODES)

    def labels(self, split: str) -> np.ndarray:
        return self._labels[self._check_split(split)].copy()

    def read(self, split: str, rows: Sequence[int] | np.ndarray) -> torch.Tensor:
        split = self._check_split(split)
        rows = self._check_rows(split, rows)
        cache = self._split_cache(split)
        if cache is None:
            return torch.from_numpy(np.stack([self._render(split, r, None) for r in rows]) if len(rows) else self._empty())
        done = self._rendered[split]
        for r in rows[~done[rows]]:
            cache[r] = self._render(split, r, None)
            done[r] = True
        return torch.from_numpy(cache[rows])

    def content_hash(self) -> str:
        world = config_to_dict(self.config)
        world.pop("root")  # where --data pointed does not change a single pixel
        text = json.dumps({"generator": GENERATOR_VERSION, "world": world}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def counterfactuals(self, split: str, rows: Sequence[int] | np.ndarray, target: int | str) -> torch.Tensor:
        """The cells of `rows` (same layout, same noise) rendered under condition `target`."""
        split = self._check_split(split)
        rows = self._check_rows(split, rows)
        target_index = self._condition_index(target)
        if not len(rows):
            return torch.from_numpy(self._empty())
        return torch.from_numpy(np.stack([self._render(split, r, target_index) for r in rows]))

    def phenotype_readouts(self, images: torch.Tensor) -> tuple[list[str], np.ndarray]:
        """Ground-truth phenotype measured on images: (names, N x K); see `readouts.READOUTS`."""
        return self._readouts(images)

    # --- ground truth ----------------------------------------------------------------------

    def metadata(self, split: str):
        """One row per image: condition, compound, concentration, the fraction of the compound's
        maximal effect (Hill), the number of cells, and each parameter's mean over the cells."""
        import pandas as pd

        cells = self.cell_table(split)
        per_image = cells.groupby("row")[list(PARAMETERS)].mean()
        frame = self._condition_frame(split)
        frame["n_cells"] = cells.groupby("row").size().reindex(frame.index).to_numpy()
        return pd.concat([frame, per_image.reindex(frame.index)], axis=1)

    def cell_table(self, split: str):
        """One row per cell: image row, condition, centre (x, y in image pixels) and parameters."""
        import pandas as pd

        split = self._check_split(split)
        scale = self.config.image_size / REFERENCE_SIZE
        records = []
        for row, label in enumerate(self._labels[split]):
            identity = draw_identity(self.config, split, row)
            params = cell_parameters(self.config, identity, self._treatments[label])
            for cell in range(identity.num_cells):
                record = {"row": row, "cell": cell, "condition": self.conditions.name(label)}
                record["x"], record["y"] = identity.centers[cell] * scale
                record.update({name: float(params[name][cell]) for name in PARAMETERS})
                records.append(record)
        return pd.DataFrame.from_records(records)

    def effects(self):
        """The world's ground truth as a table: which compound moves which parameter (and the
        readout that measures it), by how much at saturation, with which EC50 and Hill slope."""
        import pandas as pd

        records = [
            {
                "compound": compound.name,
                "parameter": effect.parameter,
                "readout": READOUT_OF_PARAMETER[effect.parameter],
                "max_shift": effect.max_shift,
                "ec50": compound.ec50,
                "hill_slope": compound.hill_slope,
            }
            for compound in self.config.compounds
            for effect in compound.effects
        ]
        return pd.DataFrame.from_records(records)

    def hill_fraction(self, condition: int | str) -> float:
        """The fraction of its compound's maximal effect that a condition reaches (0 for DMSO)."""
        treatment = self._treatments[self._condition_index(condition)]
        return 0.0 if treatment.compound is None else treatment.compound.hill(treatment.concentration)

    # --- internals -------------------------------------------------------------------------

    def _render(self, split: str, row: int, condition: int | None) -> np.ndarray:
        index = int(self._labels[split][row]) if condition is None else condition
        identity = draw_identity(self.config, split, int(row))
        return render_field(self.config, identity, cell_parameters(self.config, identity, self._treatments[index]))

    def _split_cache(self, split: str) -> np.ndarray | None:
        if split not in self._cache:
            size = self.config.image_size
            n = len(self._labels[split])
            if n * len(CHANNELS) * size * size * 4 > CACHE_LIMIT_BYTES:
                return None
            self._cache[split] = np.empty((n, len(CHANNELS), size, size), dtype=np.float32)
            self._rendered[split] = np.zeros(n, dtype=bool)
        return self._cache[split]

    def _check_rows(self, split: str, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        array = np.asarray(rows)
        if array.size == 0:
            return np.zeros(0, dtype=np.int64)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise DataError(f"Rows of split '{split}' must be a 1-D sequence of integers, got {array.dtype} {array.shape}.")
        n = len(self._labels[split])
        if array.min() < 0 or array.max() >= n:
            raise DataError(f"Rows must lie in 0..{n - 1} for split '{split}' of this world; got {array.min()}..{array.max()}.")
        return array.astype(np.int64)

    def _condition_index(self, condition: int | str) -> int:
        if isinstance(condition, str):
            return self.conditions.index(condition)
        index = int(condition)
        if not 0 <= index < len(self.conditions):
            raise DataError(f"Condition index {index} is out of range: this world has {len(self.conditions)} conditions.")
        return index

    def _condition_frame(self, split: str):
        import pandas as pd

        labels = self._labels[self._check_split(split)]
        treatments = [self._treatments[i] for i in labels]
        return pd.DataFrame(
            {
                "condition": [self.conditions.name(i) for i in labels],
                "compound": [self.config.control if t.compound is None else t.compound.name for t in treatments],
                "concentration": [np.nan if t.compound is None else t.concentration for t in treatments],
                "hill_fraction": [self.hill_fraction(int(i)) for i in labels],
            }
        )

    def _empty(self) -> np.ndarray:
        size = self.config.image_size
        return np.zeros((0, len(CHANNELS), size, size), dtype=np.float32)


def world_from_root(config: SyntheticConfig) -> SyntheticConfig:
    """The world itself when `root` (the CLI's `--data`) names a YAML world file; else `config`.

    So `phenbench run --dataset synthetic --data world.yaml` runs that world. Options given both
    in the file and in the run's dataset config would be ambiguous, so that is an error. Any
    other `root` is ignored: the world has no files.
    """
    if config.root is None or Path(config.root).suffix.lower() not in (".yaml", ".yml"):
        return config
    if dataclasses.replace(config, root=None) != SyntheticConfig():
        raise ConfigError(
            f"The synthetic world is given twice: in {config.root} (--data) and in the dataset options. "
            "Put every option in the YAML file, or leave --data out."
        )
    return dataclasses.replace(load_config_yaml(config.root), root=config.root)
