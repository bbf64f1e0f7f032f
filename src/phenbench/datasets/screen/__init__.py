"""Screens from their raw fields of view: LoadData tables, segmentation, crops, the `screen` dataset."""
