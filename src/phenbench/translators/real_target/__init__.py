"""The real-target translator: a random real training image of the target, the cell-ignoring baseline."""
