"""The `bbbc021` dataset adapter: BBBC021 single cells from a prepared cache or a crop table.

`root` (the CLI's `--data`) may be:
- a prepared cache file (`*.h5`, written by `phenbench data prepare bbbc021`): opened directly;
- a crop-table directory (`manifest.csv` + npz/npy arrays): converted once into a cache under
  `cache_dir` ($PHENBENCH_CACHE_DIR or ~/.cache/phenbench/datasets), then reused;
- a raw release (the folder with `BBBC021_v1_image.csv` and the Week folders): not read directly,
  because segmenting 13,200 fields takes hours; the error says the `prepare` command to run.

Conditions are `compound@concentration` and `DMSO`, ordered DMSO first, then by compound with
increasing dose; with `conditions: compound`, one per compound (the field's protocol). The MoA of
each condition comes from the cache's `moa` column or, where it has none, from
`BBBC021_v1_moa.csv` beside the data (optional: without it, no condition has a MoA).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.bbbc021.crop_table import cache_key, convert_crop_table, is_crop_table
from phenbench.datasets.bbbc021.metadata import CONTROL, IMAGE_CSV, MOA_CSV, Selection, attach_moa, read_moa_table
from phenbench.datasets.cached_dataset import default_cache_dir
from phenbench.datasets.h5cache import CacheReader
from phenbench.datasets.screen.adapter import PlateCacheDataset, ScreenConfig

DEFAULT_SPLIT = {"by": "well", "test_fraction": 0.2, "seed": 0}


@dataclass(frozen=True)
class Bbbc021Config(ScreenConfig):
    """Where the data is, which cells to use, and how to read them: a screen's options (root,
    normalization against the plate's DMSO, compounds, concentrations, plates) and BBBC021's own."""

    cache_dir: str | None = None
    image_size: int | None = 64  # None: the cache's own crop size (68 for the shared crops, 96 prepared)
    # Selection (empty = everything in the data), besides compounds, concentrations and plates:
    subset: str | None = None  # "latrunculin-b" or "paper-25"
    moas: tuple[str, ...] = ()
    moa_csv: str | None = None  # default: BBBC021_v1_moa.csv beside root, or in ../metadata
    # Split (applied when a crop table is converted; a prepared cache keeps the split it was made
    # with, and asking for another one is an error). None: well, 0.2, seed 0.
    split_by: str | None = None
    test_fraction: float | None = None
    split_seed: int | None = None
    channels: tuple[str, ...] | None = None  # crop tables only; default DAPI, ch1, ch2, ...


class Bbbc021Dataset(PlateCacheDataset):
    """BBBC021 (MCF-7 cells, compound x concentration), streamed from a prepared crop cache."""

    name = "bbbc021"
    config_class = Bbbc021Config

    def __init__(self, config: Bbbc021Config):
        if not isinstance(config, Bbbc021Config):
            raise ConfigError(f"bbbc021 needs a Bbbc021Config, got {type(config).__name__}")
        self.config = config
        reader = CacheReader(self._resolve_cache(config))
        self._check_split_matches(reader)
        meta = reader.meta
        if "moa" not in meta.columns:
            meta = attach_moa(meta, self._moa_table(config, required=bool(config.moas)))
        selection = Selection(
            subset=config.subset,
            compounds=config.compounds,
            concentrations=config.concentrations,
            plates=config.plates,
            moas=config.moas,
        )
        self._select(reader, meta, config, selection, CONTROL)

    @staticmethod
    def _resolve_cache(config: Bbbc021Config) -> Path:
        if not config.root:
            raise ConfigError("bbbc021 needs --data: a prepared .h5 cache, a crop-table folder, or see docs/datasets.md.")
        root = Path(config.root).expanduser()
        if root.is_file() and (root.name == "manifest.csv" or root.suffix.lower() == ".csv"):
            raise DataError(
                f"{root} is a CSV file; for a crop table pass the folder holding its manifest.csv "
                f"(--data {root.parent}), for a prepared cache the .h5 file."
            )
        if root.is_file():
            return root
        if is_crop_table(root):
            options = {
                "channels": config.channels,
                "crop_size": None,
                "split_by": config.split_by or DEFAULT_SPLIT["by"],
                "test_fraction": config.test_fraction or DEFAULT_SPLIT["test_fraction"],
                "split_seed": DEFAULT_SPLIT["seed"] if config.split_seed is None else config.split_seed,
            }
            cache = Path(config.cache_dir or default_cache_dir()) / f"bbbc021-crops-{cache_key(root, options)}.h5"
            if not cache.is_file():
                convert_crop_table(root, cache, **options)
            return cache
        if (root / IMAGE_CSV).is_file() or (root / "metadata" / IMAGE_CSV).is_file():
            raise DataError(
                f"{root} is a raw BBBC021 release: prepare it once with "
                f"`phenbench data prepare bbbc021 --root {root} --out bbbc021.h5`, then pass --data bbbc021.h5."
            )
        if not root.exists():
            raise DataError(f"The BBBC021 data path {root} does not exist; check --data.")
        raise DataError(
            f"{root} is neither a prepared .h5 cache, nor a crop table (no manifest.csv), nor a raw release "
            f"(no {IMAGE_CSV}); see docs/datasets.md for the accepted layouts."
        )

    def _check_split_matches(self, reader: CacheReader) -> None:
        stored = reader.attrs.get("split", {})
        wanted = {"by": self.config.split_by, "test_fraction": self.config.test_fraction, "seed": self.config.split_seed}
        differs = {k: (stored.get(k), v) for k, v in wanted.items() if v is not None and stored.get(k) != v}
        if differs:
            detail = ", ".join(f"{k}={old} (asked {new})" for k, (old, new) in differs.items())
            raise ConfigError(
                f"The cache {reader.path} was split with {detail}; prepare it again with the split you want "
                "or drop these options."
            )

    @staticmethod
    def _moa_table(config: Bbbc021Config, required: bool = True):
        if config.moa_csv:
            return read_moa_table(config.moa_csv)
        root = Path(config.root).expanduser()
        base = root.parent if root.is_file() else root
        for candidate in (base / MOA_CSV, base / "metadata" / MOA_CSV, base.parent / "metadata" / MOA_CSV):
            if candidate.is_file():
                return read_moa_table(candidate)
        if not required:
            return None
        raise ConfigError(f"Selecting by MoA needs {MOA_CSV}: set moa_csv in the bbbc021 config.")
