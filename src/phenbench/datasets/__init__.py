"""Dataset adapters, one module per adapter, each turning files into a PreparedDataset."""
