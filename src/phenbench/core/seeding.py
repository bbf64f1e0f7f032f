"""Seeds derived from integers, for randomness that must be a pure function of (seed, step, rank).

A fit that draws each step's batch, noise and flips from a generator seeded by
`derived_seed(seed, purpose, step, rank)` replays exactly when resumed from a checkpoint, and
does not depend on what else drew from the global RNG.
"""

from __future__ import annotations

import numpy as np


def derived_seed(*parts: int) -> int:
    """A 63-bit seed from integers, decorrelated (numpy's SeedSequence)."""
    words = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return int(words[0]) << 31 ^ int(words[1])
