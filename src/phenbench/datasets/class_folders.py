"""Class-per-folder image sets (golgi, imagefolder): scan, map folder names, convert to a cache.

Layouts: `<root>/{train,test}/<class>/<image>` (the splits are kept as given) or `<root>/<class>/
<image>` (a deterministic per-image split is drawn). Folder names become condition names, through
an optional mapping: a file `conditions.txt` in the root with lines like `0 -> DMSO` (also `0,DMSO`
or `0: DMSO`), or the config's `condition_map` entries `"0=DMSO"`.

The images are converted once into a crop cache (h5cache.py) keyed by the file list, sizes, times
and options; later runs stream from it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from phenbench.core.conditions import ConditionSet
from phenbench.core.config import config_to_dict
from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.cached_dataset import (
    CachedCropDataset,
    ReadOptions,
    default_cache_dir,
    fit_raw_to_size,
    options_identity,
    ordered_conditions,
)
from phenbench.datasets.h5cache import FORMAT, CacheReader, CacheWriter
from phenbench.datasets.images_io import IMAGE_SUFFIXES, read_image
from phenbench.datasets.splits import assign_splits

MAP_FILE = "conditions.txt"
SPLIT_FOLDERS = ("train", "test")
BATCH = 256  # images converted per append: bounded memory


@dataclass(frozen=True)
class FolderConfig(ReadOptions):
    """Where the folders are, how folder names become conditions, and how to read the images."""

    root: str = ""
    cache_dir: str | None = None
    condition_map: tuple[str, ...] = ()  # "folder=condition" entries; conditions.txt in root wins
    control: str | None = "DMSO"
    channels: tuple[str, ...] | None = None  # default ch0, ch1, ... (or red, green, blue for RGB)
    normalization: str = "fixed"  # the dtype's range: exported PNGs are already scaled
    test_fraction: float = 0.2  # only for folders without train/test subfolders
    split_seed: int = 0


def scan(root: Path) -> pd.DataFrame:
    """One row per image: path, folder (class), and split ("" when the layout has no splits)."""
    if not root.is_dir():
        raise DataError(f"The image folder {root} does not exist; check --data.")
    has_splits = all((root / s).is_dir() for s in SPLIT_FOLDERS)
    rows = []
    for split in SPLIT_FOLDERS if has_splits else ("",):
        base = root / split if split else root
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    rows.append({"path": str(path), "folder": folder.name, "split": split})
    if not rows:
        layout = "<root>/{train,test}/<class>/*.png" if has_splits else "<root>/<class>/*.png"
        raise DataError(f"No PNG or TIFF images found under {root}; expected the layout {layout}.")
    return pd.DataFrame(rows)


def read_condition_map(root: Path, entries: tuple[str, ...]) -> dict[str, str]:
    """Folder -> condition from conditions.txt in `root`, else from `entries` ("0=DMSO")."""
    path = root / MAP_FILE
    try:
        lines = path.read_text().splitlines() if path.is_file() else list(entries)
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file; write one mapping per line, like `0 -> DMSO`.") from None
    mapping = {}
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in re.split(r"->|=|,|:|\t", line, maxsplit=1)]
        if len(parts) != 2 or not all(parts):
            where = f"{path} line {number}" if path.is_file() else f"condition_map entry {line!r}"
            raise ConfigError(f"Cannot read {where}: write one mapping per line, like `0 -> DMSO`.")
        mapping[parts[0]] = parts[1]
    return mapping


class FolderDataset(CachedCropDataset):
    """Class folders converted to a crop cache; subclasses set `name` and may map folders by default."""

    config_class = FolderConfig
    # Sets that are defined by a control (golgi: DMSO vs nocodazole) refuse folders that do not
    # map to it, instead of silently running without one.
    requires_control = False

    def __init__(self, config: FolderConfig):
        if not isinstance(config, self.config_class):
            raise ConfigError(f"{self.name} needs a {self.config_class.__name__}, got {type(config).__name__}")
        if not config.root:
            raise ConfigError(f"{self.name} needs --data: the folder holding one subfolder per class.")
        self.config = config
        root = Path(config.root).expanduser()
        table = scan(root)
        mapping = read_condition_map(root, config.condition_map) or self.default_map(sorted(table["folder"].unique()))
        unknown = sorted(set(mapping) - set(table["folder"]))
        if unknown:
            raise ConfigError(
                f"The condition map names folder(s) {', '.join(unknown)}, which {root} lacks; "
                f"its folders: {', '.join(sorted(table['folder'].unique()))}."
            )
        table["condition"] = [mapping.get(f, f) for f in table["folder"]]
        if self.requires_control and config.control and config.control not in set(table["condition"]):
            folders = ", ".join(sorted(table["folder"].unique()))
            raise DataError(
                f"No folder of {root} maps to the control {config.control} (folders: {folders}). Name it in "
                f"{root / MAP_FILE} (a line like `0 -> {config.control}`, one per folder) or in condition_map."
            )
        reader = CacheReader(self._cache(root, table, config))
        names = ordered_conditions(list(pd.unique(table["condition"])), control=config.control)
        super().__init__(
            reader,
            conditions=ConditionSet(names, control=config.control),
            mask=np.ones(len(reader), dtype=bool),
            options=config,
            identity=options_identity(config),
        )

    def default_map(self, folders: list[str]) -> dict[str, str]:
        """Folder -> condition when no mapping is given (identity here)."""
        return {}

    def _cache(self, root: Path, table: pd.DataFrame, config: FolderConfig) -> Path:
        # Only what changes the converted crops or splits; normalisation is chosen when reading.
        converting = ("image_size", "resize", "channels", "control", "test_fraction", "split_seed")
        options = {k: v for k, v in config_to_dict(config).items() if k in converting}
        digest = hashlib.sha256(json.dumps({**options, "format": FORMAT}, sort_keys=True).encode())
        for path, condition in zip(table["path"], table["condition"]):
            stat = Path(path).stat()
            digest.update(f"{path}:{condition}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        cache = Path(config.cache_dir or default_cache_dir()) / f"{self.name}-{digest.hexdigest()[:16]}.h5"
        if not cache.is_file():
            convert_folders(table, cache, config, source=str(root))
        return cache


def convert_folders(table: pd.DataFrame, out: Path, config: FolderConfig, *, source: str) -> None:
    """Read every image of `table`, bring it to one size, and write the cache (atomically)."""
    table = table.copy()
    if (table["split"] == "").all():
        # No wells here: each image is its own group.
        result = assign_splits(table[["condition"]].assign(field=table["path"]), by="field", test_fraction=config.test_fraction,
                               seed=config.split_seed)
        table["split"], levels = result.split, result.levels
    else:
        levels = {c: "given" for c in table["condition"].unique()}
    first = read_image(table["path"].iloc[0])
    c, h, w = first.shape
    size = config.image_size or max(h, w)
    channels = config.channels or (("red", "green", "blue", "alpha")[:c] if c in (3, 4) and first.dtype == np.uint8
                                    else tuple(f"ch{i}" for i in range(c)))
    if len(channels) != c:
        raise ConfigError(f"{table['path'].iloc[0]} has {c} channel(s) but {len(channels)} names were given.")
    with CacheWriter(out, channels=channels, crop_shape=(size, size), dtype=first.dtype, source=source,
                     control=config.control) as writer:
        for start in range(0, len(table), BATCH):
            part = table.iloc[start : start + BATCH]
            images = []
            for path in part["path"]:
                image = read_image(path)
                if image.shape[0] != c or image.dtype != first.dtype:
                    raise DataError(
                        f"{path} has {image.shape[0]} channel(s) of {image.dtype}, but "
                        f"{table['path'].iloc[0]} has {c} of {first.dtype}; all images of a set must match."
                    )
                images.append(fit_raw_to_size(image[None], size, config.resize)[0])
            meta = part[["condition", "split"]].assign(file=[Path(p).name for p in part["path"]],
                                                        folder=part["folder"].to_numpy())
            writer.append(np.stack(images), meta)
        writer.close(attrs={"prepare": {"kind": "class-folders", "root": source, "size": size},
                            "split": {"by": "given-or-image", "levels": levels}})
