"""The `screen` dataset: the single cells of any screen prepared from its raw fields.

`--data` is a cache written by `phenbench data prepare loaddata` (or `prepare bbbc021`). Conditions
are the cache's: the control as the table named it, `compound@dose` for treated cells (or per
compound with `conditions: compound`); every cell keeps its plate and well, so splits are by well
or plate (chosen when preparing) and pairs from the control are batch-matched by plate by default.
Intensities are normalised against the control cells of each cell's plate (`normalization: dmso`
means "the control", whatever its name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from phenbench.core.conditions import ConditionSet
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.cached_dataset import CachedCropDataset, ReadOptions, options_identity, ordered_conditions
from phenbench.datasets.condition_options import (
    ConditionOptions,
    condition_labels,
    held_out_conditions,
    moa_of_conditions,
)
from phenbench.datasets.h5cache import CacheReader
from phenbench.datasets.screen.selection import FieldSelection

SCREEN_COLUMNS = ("compound", "plate", "well")


class PlateCacheDataset(CachedCropDataset):
    """Cells of a cache prepared from plates: selected, labelled per compound@dose or per compound,
    with held-out compounds, MoA where the cache has it, and the plate as each cell's batch."""

    batch_matched_by_default = True  # a control is compared with treated cells of its own plate

    def _select(self, reader: CacheReader, meta: pd.DataFrame, config, selection: FieldSelection, control: str) -> None:
        mask = selection.mask(meta, control)
        labels = condition_labels(meta["condition"].astype(str).to_numpy(dtype=object), config.conditions)
        names = ordered_conditions(list(dict.fromkeys(labels[mask])), control=control)
        moa = meta["moa"].to_numpy(dtype=object)[mask] if "moa" in meta.columns else None
        super().__init__(
            reader,
            conditions=ConditionSet(names, control=control),
            mask=mask,
            options=config,
            identity=options_identity(config),
            labels=labels,
            held_out=held_out_conditions(names, config.held_out_compounds, control),
            moa=moa_of_conditions(labels[mask], moa),
        )

    def wells(self, split: str) -> np.ndarray:
        meta = self.metadata(split)
        return (meta["plate"].astype(str) + "/" + meta["well"].astype(str)).to_numpy()


@dataclass(frozen=True)
class ScreenConfig(ReadOptions, ConditionOptions):
    """The prepared cache, which cells to use, and how to read them."""

    root: str = ""
    image_size: int | None = None  # None: the cache's own crop size
    normalization: str = "dmso"  # against the control cells of the plate (whatever the control's name)
    compounds: tuple[str, ...] = ()  # treatments to keep (the control always stays)
    concentrations: tuple[float, ...] = ()
    plates: tuple[str, ...] = ()


class ScreenDataset(PlateCacheDataset):
    """Any screen's single cells (conditions control and compound@dose), from a prepared cache."""

    name = "screen"
    config_class = ScreenConfig

    def __init__(self, config: ScreenConfig):
        if not isinstance(config, ScreenConfig):
            raise ConfigError(f"screen needs a ScreenConfig, got {type(config).__name__}")
        self.config = config
        reader = CacheReader(self._cache_path(config))
        missing = [c for c in SCREEN_COLUMNS if c not in reader.meta.columns]
        if missing:
            raise DataError(
                f"{reader.path} has no {', '.join(missing)} per cell: it was not prepared from a screen's fields. "
                "Prepare one with `phenbench data prepare loaddata`, or use the dataset that wrote this cache."
            )
        control = str(reader.attrs.get("control") or "DMSO")
        selection = FieldSelection(compounds=config.compounds, concentrations=config.concentrations, plates=config.plates)
        self._select(reader, reader.meta, config, selection, control)

    @staticmethod
    def _cache_path(config: ScreenConfig) -> Path:
        if not config.root:
            raise ConfigError("screen needs --data: a cache written by `phenbench data prepare loaddata`.")
        root = Path(config.root).expanduser()
        if root.is_file() and root.suffix.lower() in (".csv", ".gz"):
            raise DataError(
                f"{root} is a table, not a prepared cache: prepare it once with `phenbench data prepare loaddata "
                f"--table {root} --channels ... --out screen.h5`, then pass --data screen.h5."
            )
        if root.is_dir():
            raise DataError(f"{root} is a folder; give the .h5 cache written by `phenbench data prepare loaddata`.")
        return root
