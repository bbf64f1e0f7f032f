"""The real BBBC021 metadata tables, their variants, and selections by name."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from phenbench.core.errors import ConfigError, DataError, UnknownNameError
from phenbench.datasets.bbbc021.metadata import (
    NAMED_SETS,
    Selection,
    attach_moa,
    read_image_table,
    read_moa_table,
)
from tests.datasets.shared_data import METADATA, requires_shared_bbbc021

pytestmark = requires_shared_bbbc021


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return read_image_table(METADATA / "BBBC021_v1_image.csv")


def test_the_real_image_table_has_13200_fields_with_unique_keys(table: pd.DataFrame) -> None:
    raw = pd.read_csv(METADATA / "BBBC021_v1_image.csv")  # independent read of the same file
    assert len(table) == 13200 == len(raw)
    assert not table.duplicated(["table_number", "image_number"]).any()
    assert table["image_number"].duplicated().any()  # ImageNumber alone is not the key
    assert table["plate"].nunique() == 55
    assert (table["condition"] == "DMSO").sum() == (raw["Image_Metadata_Compound"] == "DMSO").sum() == 1320
    row = table.iloc[0]
    assert row.file_DAPI == f"{raw.Image_PathName_DAPI[0]}/{raw.Image_FileName_DAPI[0]}"
    assert row.condition == "5-fluorouracil@0.003"


def test_unquoted_short_float_cr_only_copy_parses_identically(table: pd.DataFrame, tmp_path: Path) -> None:
    # As other public copies: quotes only where needed (names with commas), floats short.
    raw = pd.read_csv(METADATA / "BBBC021_v1_image.csv")
    text = raw.to_csv(index=False, quoting=csv.QUOTE_MINIMAL, float_format="%g", lineterminator="\r")
    assert "0.003000" not in text and "\n" not in text and ",0.003\r" in text
    path = tmp_path / "BBBC021_v1_image.csv"
    path.write_bytes(text.encode())
    pd.testing.assert_frame_equal(read_image_table(path), table)


def test_moa_table_with_mac_line_endings(tmp_path: Path) -> None:
    lf = read_moa_table(METADATA / "BBBC021_v1_moa.csv")
    path = tmp_path / "moa.csv"
    path.write_bytes((METADATA / "BBBC021_v1_moa.csv").read_bytes().replace(b"\n", b"\r"))
    cr = read_moa_table(path)
    pd.testing.assert_frame_equal(lf, cr)
    assert len(lf) == 104 and set(lf.loc[lf.compound == "DMSO", "moa"]) == {"DMSO"}


def test_a_table_without_a_needed_column_names_it(tmp_path: Path) -> None:
    raw = pd.read_csv(METADATA / "BBBC021_v1_image.csv", nrows=5).drop(columns=["Image_FileName_Actin"])
    path = tmp_path / "BBBC021_v1_image.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"lacks the column\(s\) Image_FileName_Actin"):
        read_image_table(path)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    raw = pd.read_csv(METADATA / "BBBC021_v1_image.csv", nrows=3)
    path = tmp_path / "dup.csv"
    pd.concat([raw, raw.iloc[:1]]).to_csv(path, index=False)
    with pytest.raises(DataError, match="twice"):
        read_image_table(path)


def test_named_sets_select_the_papers_conditions(table: pd.DataFrame) -> None:
    lat = table[Selection(subset="latrunculin-b").mask(table)]
    assert sorted(set(lat["condition"])) == sorted(
        ["DMSO"] + [f"latrunculin B@{c}" for c in ("0.01", "0.03", "0.1", "0.3", "1", "3", "10", "30")]
    )
    paper = table[Selection(subset="paper-25").mask(table)]
    assert paper["condition"].nunique() == 25
    assert set(paper["compound"]) == {"DMSO", *NAMED_SETS["paper-25"]}


def test_selection_by_concentration_plate_and_moa(table: pd.DataFrame) -> None:
    with_moa = attach_moa(table, read_moa_table(METADATA / "BBBC021_v1_moa.csv"))
    chosen = with_moa[Selection(moas=("Actin disruptors",), include_control=False).mask(with_moa)]
    assert set(chosen["compound"]) == {"cytochalasin B", "cytochalasin D", "latrunculin B"}
    one = table[Selection(compounds=("taxol",), concentrations=(0.3,), plates=("Week4_27481",)).mask(table)]
    assert set(one["condition"]) == {"DMSO", "taxol@0.3"} and set(one["plate"]) == {"Week4_27481"}


def test_unknown_names_get_suggestions(table: pd.DataFrame) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean: cyclohexamide"):
        Selection(compounds=("cycloheximide",)).mask(table)
    with pytest.raises(UnknownNameError, match="Unknown BBBC021 subset 'paper25'"):
        Selection(subset="paper25").mask(table)
    with pytest.raises(ConfigError, match="MoA"):
        Selection(moas=("Actin disruptors",)).mask(table)
    with pytest.raises(DataError, match="matches no cells"):
        Selection(compounds=("taxol",), concentrations=(7.0,), include_control=False).mask(table)
