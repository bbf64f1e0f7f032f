"""The synthetic world: procedural cell images with known ground truth and true counterfactuals.

`adapter.SyntheticDataset` is the dataset (`--dataset synthetic`); `config.SyntheticConfig` the
world; `world` draws each image's cells; `render` paints them; `readouts` measures them.
"""
