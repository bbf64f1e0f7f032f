"""The `bbbc021-impa` dataset adapter: IMPA's preprocessed BBBC021 crops, the field's benchmark.

`--data` is the release folder (with `metadata/<index>.csv`) or the index CSV itself. The crops
are converted once into a cache under `cache_dir` (impa_release.py) and streamed from it. The
release's SPLIT is kept; conditions are per compound by default (`conditions: compound`, the
protocol's) or per compound@dose (PhenDiff's); `held_out_compounds` removes compounds from
training (evaluated as unseen); the MoA of each condition is its ANNOT. Pixels are uint8, read
with `normalization: fixed` (0..255 -> [-1, 1], as IMPA's loader, without its dequantisation noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phenbench.core.conditions import ConditionSet
from phenbench.core.errors import ConfigError, UnknownNameError
from phenbench.datasets.bbbc021.impa_release import cache_key, convert_release, find_index, image_root_of, read_index
from phenbench.datasets.cached_dataset import (
    CachedCropDataset,
    ReadOptions,
    default_cache_dir,
    options_identity,
    ordered_conditions,
)
from phenbench.datasets.condition_options import (
    ConditionOptions,
    condition_labels,
    held_out_conditions,
    moa_of_conditions,
)
from phenbench.datasets.h5cache import CacheReader


@dataclass(frozen=True)
class ImpaConfig(ReadOptions, ConditionOptions):
    """Where the release is, which compounds to use, and how to read the crops."""

    root: str = ""
    image_root: str | None = None  # the folder holding the A/B/ crop folders; default: above metadata/
    cache_dir: str | None = None
    conditions: str = "compound"  # the protocol's; "compound@dose" for PhenDiff's conditions
    normalization: str = "fixed"  # uint8 0..255 -> [-1, 1]
    compounds: tuple[str, ...] = ()  # a selection (IMPA's mol_list); the control is always kept
    channels: tuple[str, ...] | None = None  # default ch0, ch1, ch2: the release does not name them


class Bbbc021ImpaDataset(CachedCropDataset):
    """BBBC021 single cells in IMPA's release layout (96 x 96 x 3 uint8 crops)."""

    name = "bbbc021-impa"
    config_class = ImpaConfig
    batch_matched_by_default = True  # CellFlux draws each control from the treated cell's batch

    def __init__(self, config: ImpaConfig):
        if not isinstance(config, ImpaConfig):
            raise ConfigError(f"bbbc021-impa needs an ImpaConfig, got {type(config).__name__}")
        if not config.root:
            raise ConfigError("bbbc021-impa needs --data: IMPA's release folder (with metadata/<index>.csv) "
                              "or its index CSV.")
        self.config = config
        index = find_index(Path(config.root).expanduser())
        images = image_root_of(index, config.image_root)
        table = read_index(index)
        control = table.attrs["control"]
        options = {"channels": config.channels, "image_root": str(images)}
        cache = Path(config.cache_dir or default_cache_dir()) / f"bbbc021-impa-{cache_key(index, images, table, options)}.h5"
        if not cache.is_file():
            convert_release(index, images, table, cache, config.channels)
        reader = CacheReader(cache)
        meta = reader.meta
        mask = np.ones(len(meta), dtype=bool)
        if config.compounds:
            known = sorted(set(meta["compound"].astype(str)) - {control})
            for compound in config.compounds:
                if compound not in known:
                    raise UnknownNameError("compound", compound, known)
            mask = meta["compound"].astype(str).isin([*config.compounds, control]).to_numpy()
        labels = condition_labels(meta["condition"].astype(str).to_numpy(dtype=object), config.conditions)
        names = ordered_conditions(list(dict.fromkeys(labels[mask])), control=control)
        super().__init__(
            reader,
            conditions=ConditionSet(names, control=control),
            mask=mask,
            options=config,
            identity={**options_identity(config), "image_root": None},
            labels=labels,
            held_out=held_out_conditions(names, config.held_out_compounds, control),
            moa=moa_of_conditions(labels[mask], meta["moa"].astype(str).to_numpy(dtype=object)[mask]),
        )
