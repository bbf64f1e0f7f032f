"""The `golgi` dataset adapter: the PhenDiff paper's Golgi set, in its class-per-folder layout.

`<root>/{train,test}/<class>/*.png` (or `<root>/<class>/*.png`, split per image), 128 x 128 RGB
PNGs. The real set is not public. Folder names map to conditions through `conditions.txt` in the
root or the config's `condition_map`; without either, the paper's folders `0` and `1` are DMSO and
nocodazole (nocodazole disperses the Golgi into many small fragments).
"""

from __future__ import annotations

from dataclasses import dataclass

from phenbench.datasets.class_folders import FolderConfig, FolderDataset

PAPER_MAP = {"0": "DMSO", "1": "nocodazole"}


@dataclass(frozen=True)
class GolgiConfig(FolderConfig):
    """As FolderConfig; images keep their size (128 in the paper) unless image_size is set."""


class GolgiDataset(FolderDataset):
    """Golgi apparatus images, DMSO vs nocodazole (or the classes the folders hold)."""

    name = "golgi"
    config_class = GolgiConfig
    requires_control = True

    def default_map(self, folders: list[str]) -> dict[str, str]:
        return dict(PAPER_MAP) if set(folders) == set(PAPER_MAP) else {}
