"""golgi and imagefolder: class-per-folder PNG/TIFF sets (generated stand-ins: the Golgi set is private)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.golgi import GolgiConfig, GolgiDataset
from phenbench.datasets.imagefolder import ImageFolderConfig, ImageFolderDataset


def _golgi(root: Path, per_class: int = 3, splits: bool = True, size: int = 16) -> dict[str, np.ndarray]:
    """RGB PNGs in 0/ and 1/ (with train/test above them when `splits`); returns the arrays by path."""
    rng = np.random.default_rng(0)
    written = {}
    for split in ("train", "test") if splits else ("",):
        for cls in ("0", "1"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(array).save(folder / f"img{i}.png")
                written[str(folder / f"img{i}.png")] = array
    return written


def test_golgi_maps_the_paper_folders_and_reads_exact_pixels(tmp_path: Path) -> None:
    written = _golgi(tmp_path / "golgi")
    data = GolgiDataset(GolgiConfig(root=str(tmp_path / "golgi"), cache_dir=str(tmp_path / "cache")))
    assert list(data.conditions.names) == ["DMSO", "nocodazole"]
    assert data.spec.channels == ("red", "green", "blue") and data.spec.image_size == 16
    assert data.counts_table() == {"train": {"DMSO": 3, "nocodazole": 3}, "test": {"DMSO": 3, "nocodazole": 3}}
    meta = data.metadata("test")
    row = int(np.flatnonzero(meta.folder == "1")[0])
    path = str(tmp_path / "golgi" / "test" / "1" / meta.file[row])
    expected = torch.from_numpy(written[path]).permute(2, 0, 1).float() / 255 * 2 - 1
    torch.testing.assert_close(data.read("test", [row])[0], expected)
    assert data.labels("test")[row] == data.conditions.index("nocodazole")


def test_a_mapping_file_renames_folders(tmp_path: Path) -> None:
    _golgi(tmp_path / "g", splits=False, per_class=5)
    (tmp_path / "g" / "conditions.txt").write_text("# folder -> condition\n0 -> DMSO\n1 -> nocodazole@1\n")
    data = GolgiDataset(GolgiConfig(root=str(tmp_path / "g"), cache_dir=str(tmp_path / "c"), image_size=8))
    assert list(data.conditions.names) == ["DMSO", "nocodazole@1"]
    assert sum(data.counts("train").values()) + sum(data.counts("test").values()) == 10
    assert data.read("train", [0]).shape == (1, 3, 8, 8)
    (tmp_path / "g" / "conditions.txt").write_text("0 DMSO\n")
    with pytest.raises(ConfigError, match=r"conditions.txt line 1: write one mapping per line, like `0 -> DMSO`"):
        GolgiDataset(GolgiConfig(root=str(tmp_path / "g"), cache_dir=str(tmp_path / "c")))
    (tmp_path / "g" / "conditions.txt").write_text("0 -> DMSO\n7 -> taxol\n")
    with pytest.raises(ConfigError, match="names folder\\(s\\) 7"):
        GolgiDataset(GolgiConfig(root=str(tmp_path / "g"), cache_dir=str(tmp_path / "c")))


def test_imagefolder_reads_16_bit_multichannel_tiff_and_grey_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    root = tmp_path / "screen"
    for name in ("DMSO", "taxol@1", "taxol@0.3"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            tifffile.imwrite(root / name / f"{i}.tif", rng.integers(0, 4000, (20, 24, 5), dtype=np.uint16))
    data = ImageFolderDataset(ImageFolderConfig(root=str(root), cache_dir=str(tmp_path / "c"),
                                                normalization="global", image_size=24, resize="pad"))
    assert list(data.conditions.names) == ["DMSO", "taxol@0.3", "taxol@1"]
    assert data.spec.num_channels == 5 and data.read("test", [0]).shape == (1, 5, 24, 24)
    assert data.conditions.dose_series("taxol") == ["taxol@0.3", "taxol@1"]

    grey = tmp_path / "grey"
    for name in ("a", "b"):
        (grey / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 65535, (10, 10), dtype=np.uint16)).save(grey / name / f"{i}.png")
    data = ImageFolderDataset(ImageFolderConfig(root=str(grey), cache_dir=str(tmp_path / "c")))
    assert data.spec.channels == ("ch0",) and data.reader.dtype == np.uint16
    assert data.conditions.control is None


def test_folder_errors_name_the_file(tmp_path: Path) -> None:
    def load(root: Path) -> ImageFolderDataset:
        return ImageFolderDataset(ImageFolderConfig(root=str(root), cache_dir=str(tmp_path / "c")))

    mixed = tmp_path / "mixed"
    _golgi(mixed, splits=False)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(mixed / "1" / "zz.png")
    with pytest.raises(DataError, match=r"zz.png has 1 channel\(s\) of uint8, but .* has 3"):
        load(mixed)

    corrupt = tmp_path / "corrupt"
    _golgi(corrupt, splits=False)
    (corrupt / "0" / "img1.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match=r"img1.png cannot be read"):
        load(corrupt)

    empty = tmp_path / "empty"
    (empty / "0").mkdir(parents=True)
    with pytest.raises(DataError, match="No PNG or TIFF images found"):
        load(empty)

    lopsided = tmp_path / "lopsided"
    _golgi(lopsided)
    for png in (lopsided / "test" / "1").iterdir():
        png.unlink()
    with pytest.raises(DataError, match="have no cells in the test split"):
        load(lopsided)
    assert not [p for p in (tmp_path / "c").iterdir() if "tmp" in p.name]


def test_golgi_folders_that_do_not_map_to_the_control_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "three"
    _golgi(root, splits=False)
    (root / "2").mkdir()
    for png in (root / "1").iterdir():
        (root / "2" / png.name).write_bytes(png.read_bytes())
    with pytest.raises(DataError, match=r"No folder of .*three maps to the control DMSO \(folders: 0, 1, 2\)"):
        GolgiDataset(GolgiConfig(root=str(root), cache_dir=str(tmp_path / "c")))
    (root / "conditions.txt").write_text("0 -> DMSO\n1 -> nocodazole@1\n2 -> nocodazole@2\n")
    data = GolgiDataset(GolgiConfig(root=str(root), cache_dir=str(tmp_path / "c")))
    assert data.conditions.control == "DMSO" and len(data.conditions) == 3
