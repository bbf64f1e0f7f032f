"""The `imagefolder` dataset adapter: any class-per-folder set of PNG or TIFF images.

For a user's own screen: `<root>/{train,test}/<class>/<image>` or `<root>/<class>/<image>`, 8 or 16
bit (or float TIFF), 1 to 8 channels, any size (brought to `image_size` by resizing or padding).
Folder names are the condition names (`DMSO`, `taxol@0.3`, ...) unless mapped by `conditions.txt`
or `condition_map`. 16-bit screens usually want `normalization: global` (percentiles over the set)
instead of the default `fixed` (the full 0..65535 range).
"""

from __future__ import annotations

from dataclasses import dataclass

from phenbench.datasets.class_folders import FolderConfig, FolderDataset


@dataclass(frozen=True)
class ImageFolderConfig(FolderConfig):
    """See FolderConfig for the fields."""


class ImageFolderDataset(FolderDataset):
    """Images in one folder per condition."""

    name = "imagefolder"
    config_class = ImageFolderConfig
