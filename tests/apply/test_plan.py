"""Output paths: condition names as folder names, sub-folders kept, collisions caught early."""

from __future__ import annotations

from pathlib import Path

import pytest

from phenbench.apply.plan import plan_outputs
from phenbench.imaging.files import safe_name
from phenbench.core.errors import DataError


def test_condition_names_become_safe_folder_names() -> None:
    assert safe_name("latrunculin B@0.3") == "latrunculin_B@0.3"
    assert safe_name("a/b\\c") == "a_b_c" and safe_name("..") == "_"


def test_outputs_keep_sub_folders_and_follow_target_order(tmp_path: Path) -> None:
    file = tmp_path / "plate1" / "w1.tif"
    plan = plan_outputs([file], tmp_path, ["x@10", "x@1"], series_compound="x", differences=True, vector=("svg",))
    assert [(o.kind, o.path.as_posix()) for o in plan[file]] == [
        ("translated", "x@10/plate1/w1.tif"), ("translated", "x@1/plate1/w1.tif"),
        ("difference", "differences/x@10/plate1/w1.tif"), ("difference", "differences/x@1/plate1/w1.tif"),
        ("figure", "series/x/plate1/w1.png"), ("figure-svg", "series/x/plate1/w1.svg"),
        ("panels", "series/x/plate1/w1.npy"), ("gif", "series/x/plate1/w1.gif"),
    ]


def test_two_inputs_that_would_write_the_same_file_are_an_error(tmp_path: Path) -> None:
    files = [tmp_path / "a.png", tmp_path / "a.tif"]
    plan_outputs(files, tmp_path, ["x@1"], series_compound=None, differences=False)  # different suffixes: fine
    with pytest.raises(DataError, match=r"a.tif and .*a.png would both write differences/x@1/a.tif"):
        plan_outputs(files, tmp_path, ["x@1"], series_compound=None, differences=True)
