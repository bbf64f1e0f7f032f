"""The 5-channel miniature screen, generated and prepared once per session through the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from phenbench.cli import build_cli
from tests.datasets.screen.mini_screen import make_screen

CROP = 64


@dataclass
class PreparedScreen:
    root: Path
    truth: pd.DataFrame
    cache: Path
    output: str  # what `phenbench data prepare loaddata` printed


def prepare_cli(*args: str):
    return CliRunner().invoke(build_cli(), ["data", "prepare", "loaddata", *args, "--quiet"])


@pytest.fixture(scope="session")
def screen(tmp_path_factory: pytest.TempPathFactory) -> PreparedScreen:
    root = tmp_path_factory.mktemp("screen")
    truth = make_screen(root)
    cache = root / "screen.h5"
    result = prepare_cli(
        "--table", str(root / "load_data.csv"), "--channels", "DNA,RNA,ER,AGP,Mito", "--nucleus-channel", "DNA",
        "--treatment", "Metadata_Compound", "--dose", "Metadata_Concentration", "--control", "DMSO",
        "--crop-size", str(CROP), "--split-by", "plate", "--out", str(cache),
    )
    assert result.exit_code == 0, result.output
    return PreparedScreen(root, truth, cache, result.output)
