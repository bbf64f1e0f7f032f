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
    ]
