"""The identity translator: the copy-source null baseline of every comparison."""
