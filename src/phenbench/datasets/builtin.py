"""The built-in dataset adapters, registered through the same hook as third-party plugins."""

from phenbench.core.registry import Registration
from phenbench.hookspecs import hookimpl


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
    ]
