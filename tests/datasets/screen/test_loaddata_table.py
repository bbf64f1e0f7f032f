"""Reading LoadData tables: both column forms, paths, doses, per-well metadata, and bad tables."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phenbench.core.errors import ConfigError, DataError
from phenbench.datasets.screen.loaddata import (
    LoadDataColumns,
    field_keys,
    join_well_metadata,
    page_tuples,
    read_loaddata,
    resolve_files,
)

SPEC = LoadDataColumns(channels=("DNA", "AGP"), dose="Metadata_Concentration")


def table(prefix: str = "", **changes) -> pd.DataFrame:
    rows = {
        "Metadata_Plate": ["P1", "P1", "P2"], "Metadata_Well": ["A01", "A02", "A01"], "Metadata_Site": [1, 1, 2],
        "Metadata_Compound": ["DMSO", "taxol", "taxol"], "Metadata_Concentration": [np.nan, 0.30, 3.0],
        "FileName_DNA": ["a_dna.tif", "b_dna.tif", "c_dna.tif"], "PathName_DNA": ["plate1", "plate1", "/data/plate2"],
        "FileName_AGP": ["a_agp.tif", "b_agp.tif", "c_agp.tif"],
    }
    rows.update(changes)
    return pd.DataFrame({prefix + key: value for key, value in rows.items()})


def test_loaddata_and_exported_forms_read_the_same() -> None:
    plain, exported = read_loaddata(table(), SPEC, "t.csv"), read_loaddata(table("Image_"), SPEC, "t.csv")
    pd.testing.assert_frame_equal(plain, exported)
    assert list(plain.condition) == ["DMSO", "taxol@0.3", "taxol@3"]
    assert list(plain.site) == ["1", "1", "2"] and list(plain.line) == [2, 3, 4]
    assert list(plain.file_DNA) == ["plate1/a_dna.tif", "plate1/b_dna.tif", "/data/plate2/c_dna.tif"]
    assert list(plain.file_AGP) == ["a_agp.tif", "b_agp.tif", "c_agp.tif"]  # no PathName: the name alone
    assert page_tuples(plain, SPEC.names) == [(None, None)] * 3
    # Without a dose column, conditions are the treatments themselves.
    assert list(read_loaddata(table(), LoadDataColumns(channels=("DNA",)), "t.csv").condition) == ["DMSO", "taxol", "taxol"]


def test_paths_absolute_under_the_root_or_mapped(tmp_path: Path) -> None:
    fields = read_loaddata(table(), SPEC, "t.csv")
    files = resolve_files(fields, SPEC.names, tmp_path, (), "t.csv")
    assert files[0] == (str(tmp_path / "plate1" / "a_dna.tif"), str(tmp_path / "a_agp.tif"))
    assert files[2][0] == "/data/plate2/c_dna.tif"  # absolute paths stay
    mapped = resolve_files(fields, SPEC.names, tmp_path, ("/data/=/mnt/copy/",), "t.csv")
    assert mapped[2][0] == "/mnt/copy/plate2/c_dna.tif"
    remote = read_loaddata(table(PathName_DNA=["plate1", "plate1", "s3://bucket/source_4/images/P2/"]), SPEC, "t.csv")
    with pytest.raises(DataError, match=r"t.csv line 4: the file of channel DNA is a URL \(s3://bucket/source_4/images/P2/c_dna.tif\)"
                                        r".*--path-map s3://bucket/source_4/images/=/local/folder/"):
        resolve_files(remote, SPEC.names, tmp_path, (), "t.csv")
    local = resolve_files(remote, SPEC.names, tmp_path, ("s3://bucket/=jump/",), "t.csv")
    assert local[2][0] == str(tmp_path / "jump/source_4/images/P2/c_dna.tif")


def test_url_columns_local_or_mapped(tmp_path: Path) -> None:
    urls = table(URL_DNA=["file:///data/p%201/a.tif", "s3://bucket/p/b.tif", "s3://bucket/p/c.tif"]).drop(
        columns=["FileName_DNA", "PathName_DNA"])
    fields = read_loaddata(urls, SPEC, "t.csv")
    assert list(fields.file_DNA) == ["/data/p 1/a.tif", "s3://bucket/p/b.tif", "s3://bucket/p/c.tif"]
    files = resolve_files(fields, SPEC.names, tmp_path, ("s3://bucket/=/copy/",), "t.csv")
    assert [f[0] for f in files] == ["/data/p 1/a.tif", "/copy/p/b.tif", "/copy/p/c.tif"]


def test_pages_from_frame_columns_or_one_stack() -> None:
    framed = read_loaddata(table(Frame_DNA=[0, 0, 0], Frame_AGP=[3, 3, 3]), SPEC, "t.csv")
    assert page_tuples(framed, SPEC.names) == [(0, 3)] * 3
    stacked = read_loaddata(table(FileName_Field=["a.tif", "b.tif", "c.tif"]), LoadDataColumns(channels=("DNA", "AGP"), stack="Field"), "t.csv")
    assert page_tuples(stacked, ("DNA", "AGP")) == [(0, 1)] * 3 and list(stacked.file_AGP) == ["a.tif", "b.tif", "c.tif"]
    with pytest.raises(DataError, match=r"t.csv line 3: Frame_AGP must be a page number"):
        read_loaddata(table(Frame_AGP=[1, -1, 2]), SPEC, "t.csv")


def test_bad_tables_are_refused_in_one_line_naming_the_column() -> None:
    with pytest.raises(DataError, match=r"no column FileName_Mito \(nor Image_FileName_Mito, URL_Mito\) for channel Mito; "
                                        r"its file columns are for AGP, DNA.*--channels Mito=<suffix>"):
        read_loaddata(table(), LoadDataColumns(channels=("DNA", "Mito")), "t.csv")
    with pytest.raises(DataError, match=r"FileName_ER .* for channel ER.* map one: --channels ER=OrigER."):
        read_loaddata(table(FileName_OrigER=["x"] * 3), LoadDataColumns(channels=("DNA", "ER")), "t.csv")
    with pytest.raises(DataError, match=r"The control 'DSMO' \(--control\) is not a value of Metadata_Compound in t.csv. "
                                        r"Did you mean: DMSO\? It holds: DMSO, taxol."):
        read_loaddata(table(), LoadDataColumns(channels=("DNA",), control="DSMO"), "t.csv")
    with pytest.raises(DataError, match=r"no column Metadata_Dose \(--dose\). Its metadata columns: Metadata_Plate, "):
        read_loaddata(table(), LoadDataColumns(channels=("DNA",), dose="Metadata_Dose"), "t.csv")
    with pytest.raises(DataError, match=r"no column Metadata_Compund \(--treatment\). Did you mean: Metadata_Compound\?"):
        read_loaddata(table(), LoadDataColumns(channels=("DNA",), treatment="Metadata_Compund"), "t.csv")
    with pytest.raises(DataError, match=r"t.csv line 3: Metadata_Concentration is 'high', not a number"):
        read_loaddata(table(Metadata_Concentration=[0, "high", 3]), SPEC, "t.csv")
    with pytest.raises(DataError, match=r"t.csv line 4: Metadata_Plate is empty"):
        read_loaddata(table(Metadata_Plate=["P1", "P1", None]), SPEC, "t.csv")
    with pytest.raises(ConfigError, match="--nucleus-channel Hoechst is not one of the channels DNA, AGP"):
        LoadDataColumns(channels=("DNA", "AGP"), nucleus_channel="Hoechst")
    with pytest.raises(ConfigError, match="names a channel twice"):
        LoadDataColumns(channels=("DNA", "DNA=OrigDNA"))


def test_a_field_listed_twice_is_refused(tmp_path: Path) -> None:
    doubled = read_loaddata(pd.concat([table(), table().iloc[:1]], ignore_index=True), SPEC, "t.csv")
    files = resolve_files(doubled, SPEC.names, tmp_path, (), "t.csv")
    with pytest.raises(DataError, match="t.csv lines 2 and 5 name the same files"):
        field_keys(doubled, files, page_tuples(doubled, SPEC.names), "t.csv")
    keys = field_keys(doubled.iloc[:3], files[:3], page_tuples(doubled, SPEC.names)[:3], "t.csv")
    assert keys[0].startswith("P1_A01_s1-") and len(set(keys)) == 3


def test_treatments_joined_from_a_gzipped_per_well_table(tmp_path: Path) -> None:
    """JUMP's load_data.csv has no treatment: its metadata/well.csv.gz maps plate and well to one."""
    wells = pd.DataFrame({"Metadata_Source": ["source_4"] * 3, "Metadata_Plate": ["P1", "P1", "P2"],
                          "Metadata_Well": ["A01", "A02", "A01"],
                          "Metadata_JCP2022": ["JCP2022_033924", "JCP2022_012818", "JCP2022_050797"]})
    path = tmp_path / "well.csv.gz"
    path.write_bytes(gzip.compress(wells.to_csv(index=False).encode()))
    raw = table().drop(columns=["Metadata_Compound"]).assign(Metadata_Source="source_4")
    joined = join_well_metadata(raw, path, SPEC, "t.csv")
    assert list(joined.Metadata_JCP2022) == list(wells.Metadata_JCP2022) and len(joined) == 3
    spec = LoadDataColumns(channels=("DNA",), treatment="Metadata_JCP2022", control="JCP2022_033924")
    assert list(read_loaddata(joined, spec, "t.csv").condition) == ["JCP2022_033924", "JCP2022_012818", "JCP2022_050797"]
    pd.concat([wells, wells.iloc[:1]]).to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(DataError, match="twice.csv lists P1 A01 twice"):
        join_well_metadata(raw, tmp_path / "twice.csv", SPEC, "t.csv")
