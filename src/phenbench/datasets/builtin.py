"""The built-in dataset adapters, registered through the same hook as third-party plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from phenbench.core.registry import Registration
from phenbench.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def register_datasets() -> list[Registration]:
    return [
        Registration(
            "synthetic",
            "phenbench.datasets.synthetic.adapter:SyntheticDataset",
            "Procedural cell images with known ground truth and true counterfactuals (no files).",
        ),
        Registration(
            "bbbc021",
            "phenbench.datasets.bbbc021.adapter:Bbbc021Dataset",
            "BBBC021 MCF-7 single cells (compound@concentration): a prepared cache or a crop table.",
        ),
        Registration(
            "screen",
            "phenbench.datasets.screen.adapter:ScreenDataset",
            "Any screen prepared from its raw fields (`data prepare loaddata`): control and compound@dose per plate.",
        ),
        Registration(
            "bbbc021-impa",
            "phenbench.datasets.bbbc021.impa_adapter:Bbbc021ImpaDataset",
            "BBBC021 in IMPA's release layout (index CSV + 96 x 96 npy crops): the field's benchmark split.",
        ),
        Registration(
            "golgi",
            "phenbench.datasets.golgi:GolgiDataset",
            "PhenDiff's Golgi layout: class-per-folder PNGs, folder names mapped to conditions.",
        ),
        Registration(
            "imagefolder",
            "phenbench.datasets.imagefolder:ImageFolderDataset",
            "Any class-per-folder set of PNG/TIFF images (8/16 bit, 1 to N channels).",
        ),
    ]


@hookimpl
def register_commands(cli: "click.Group") -> None:
    """The `phenbench data` group: prepare and download."""
    from phenbench.datasets.commands import add_data_commands

    add_data_commands(cli)
