"""Metrics, one module per metric family. Metrics never import translators."""
