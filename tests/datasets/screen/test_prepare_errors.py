"""`phenbench data prepare loaddata` through the CLI: bad input is one line naming the column or file
(exit status 2, no traceback), bad fields are skipped and counted only when asked, and a JUMP plate's
own tables prepare as docs/datasets.md shows."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from tests.datasets.screen.conftest import prepare_cli
from tests.datasets.screen.mini_screen import ScreenSpec, make_screen

SMALL = ScreenSpec(channels=("DNA", "RNA", "Mito"), treatments=(("DMSO", 0.0), ("drug", 1.0)), size=256, nuclei=3,
                   border_nuclei=0)
ARGS = ("--channels", "DNA,RNA,Mito", "--dose", "Metadata_Concentration", "--crop-size", "48")


def small_screen(root: Path) -> pd.DataFrame:
    make_screen(root, SMALL)
    return pd.read_csv(root / "load_data.csv")


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def run(root: Path, *args: str):
    return prepare_cli("--table", str(root / "load_data.csv"), *ARGS, "--out", str(root / "out.h5"), *args)


def test_a_missing_channel_column_names_it(tmp_path: Path) -> None:
    small_screen(tmp_path)
    line = one_line_error(prepare_cli("--table", str(tmp_path / "load_data.csv"), "--channels", "DNA,RNA,ER",
                                      "--out", str(tmp_path / "out.h5")))
    assert "has no column FileName_ER (nor Image_FileName_ER, URL_ER) for channel ER; its file columns are for DNA, Mito, RNA" in line


def test_a_missing_file_names_it_before_segmenting_or_is_skipped_and_counted(tmp_path: Path) -> None:
    table = small_screen(tmp_path)
    missing = tmp_path / table.PathName_RNA[2] / table.FileName_RNA[2]
    missing.unlink()
    line = one_line_error(run(tmp_path))
    assert f"{missing} is missing" in line and "--skip-bad-fields" in line
    assert not (tmp_path / "out.h5").exists() and not list((tmp_path / "out.h5.work").rglob("*.npz"))
    skipped = run(tmp_path, "--skip-bad-fields")
    assert skipped.exit_code == 0, skipped.output
    assert "Skipped fields: 1 missing TIFF" in skipped.output and missing.name in skipped.output


def test_fields_of_different_shapes_name_the_file(tmp_path: Path) -> None:
    table = small_screen(tmp_path)
    other = [tmp_path / table[f"PathName_{c}"][3] / table[f"FileName_{c}"][3] for c in ("DNA", "RNA", "Mito")]
    for path in other:
        tifffile.imwrite(path, np.zeros((200, 256), np.uint16))
    line = one_line_error(run(tmp_path))
    assert f"{other[0]} is 200 x 256 pixels, but the screen's first field is 256 x 256" in line
    odd = tmp_path / table.PathName_Mito[1] / table.FileName_Mito[1]
    tifffile.imwrite(odd, np.zeros((128, 128), np.uint16))
    line = one_line_error(run(tmp_path))
    assert "the channels of one field differ in shape" in line and f"{odd.name} (128, 128)" in line


def test_an_unknown_control_names_the_column(tmp_path: Path) -> None:
    small_screen(tmp_path)
    line = one_line_error(run(tmp_path, "--control", "DMSO_0.1%"))
    assert "The control 'DMSO_0.1%' (--control) is not a value of Metadata_Compound in" in line
    assert "Did you mean: DMSO? It holds: DMSO, drug." in line


def test_a_jump_plate_with_its_own_tables(tmp_path: Path) -> None:
    """cpg0016's load_data.csv (Metadata_Plate/Well/Site, URL_OrigDNA... as s3:// URLs, no treatment) and
    its metadata's well.csv.gz (Metadata_Source, Metadata_Plate, Metadata_Well, Metadata_JCP2022)."""
    table = small_screen(tmp_path / "images")
    channels = {"DNA": "OrigDNA", "RNA": "OrigRNA", "Mito": "OrigMito"}
    s3 = "s3://cellpainting-gallery/cpg0016-jump/source_4/images/2021_04_26_Batch1/images/"
    jump = table[["Metadata_Plate", "Metadata_Well", "Metadata_Site"]].copy()
    for name, column in channels.items():
        jump[f"URL_{column}"] = s3 + table[f"PathName_{name}"] + "/" + table[f"FileName_{name}"]
    jump.to_csv(tmp_path / "load_data.csv", index=False)
    wells = table[["Metadata_Plate", "Metadata_Well"]].assign(
        Metadata_Source="source_4", Metadata_JCP2022=np.where(table.Metadata_Compound == "DMSO", "JCP2022_033924", "JCP2022_012818"))
    (tmp_path / "well.csv.gz").write_bytes(gzip.compress(wells.to_csv(index=False).encode()))
    result = prepare_cli(
        "--table", str(tmp_path / "load_data.csv"), "--channels", ",".join(f"{k}={v}" for k, v in channels.items()),
        "--well-metadata", str(tmp_path / "well.csv.gz"), "--treatment", "Metadata_JCP2022",
        "--control", "JCP2022_033924", "--path-map", f"{s3}={tmp_path / 'images'}/", "--crop-size", "48",
        "--split-by", "plate", "--out", str(tmp_path / "jump.h5"),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split() == ["JCP2022_033924", "3", "3"] for line in lines), result.output
    assert any(line.split() == ["JCP2022_012818", "3", "3"] for line in lines), result.output
