"""The cells of one image, drawn once, and their parameters under any condition.

Each image (a split and a row) owns a random stream seeded by (world seed, split, row). Everything
random about the image is drawn from it up front into a `FieldIdentity`: how many cells, where,
their outlines, textures, puncta positions, each cell's standard-normal deviate per morphological
parameter, and the camera noise. A condition then only moves parameter means. Rendering the same
identity under another condition is therefore the true counterfactual: same cells, same layout,
same noise, different treatment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phenbench.datasets.synthetic.config import PARAMETERS, Compound, SyntheticConfig

REFERENCE_SIZE = 64.0  # lengths in the config are pixels of a 64 x 64 field
SPLIT_CODES = {"train": 0, "test": 1}
NUM_FIBRE_HARMONICS = 12
MIN_CYTOPLASM_RADIUS = 3.0
MAX_NUCLEUS_FRACTION = 0.8  # a nucleus never fills more than this share of its cell's radius
PLACEMENT_TRIES = 200
CONTACT = 1.0  # neighbouring cells may touch (their outlines overlap by up to this, reference pixels)


@dataclass(frozen=True)
class Treatment:
    """A condition as the renderer needs it: a compound at a concentration, or the control."""

    compound: Compound | None = None
    concentration: float = 0.0

    def shifts(self) -> dict[str, float]:
        """The shift of each parameter's mean under this treatment (0 for unmoved parameters)."""
        if self.compound is None:
            return {}
        fraction = self.compound.hill(self.concentration)
        return {e.parameter: e.max_shift * fraction for e in self.compound.effects}


@dataclass(frozen=True)
class FieldIdentity:
    """Everything random about one image, independent of its condition. Arrays are per cell."""

    deviates: np.ndarray  # n x P standard normals, one per cell and parameter (PARAMETERS order)
    centers: np.ndarray  # n x 2 (x, y) in reference pixels
    outline_amplitudes: np.ndarray  # n x 3, harmonics 2..4 of the cell outline
    outline_phases: np.ndarray  # n x 3
    nucleus_offset: np.ndarray  # n x 2: fraction of the free radius, direction angle
    nucleus_ellipse: np.ndarray  # n x 2: eccentricity, orientation angle
    fibre_orders: np.ndarray  # n x K angular orders of the radial microtubule texture
    fibre_phases: np.ndarray  # n x K
    fibre_amplitudes: np.ndarray  # n x K
    fibre_twists: np.ndarray  # n x K: phase change per reference pixel of radius (curved fibres)
    stress_fibres: np.ndarray  # n x 2: actin cable direction angle, phase
    organelle_angle: np.ndarray  # n: direction of the compact organelle from the nucleus
    puncta_jitter: np.ndarray  # n x M x 2: standard-normal offsets inside the compact organelle
    puncta_angles: np.ndarray  # n x M: directions of the scattered puncta
    puncta_radii: np.ndarray  # n x M: radial position of the scattered puncta, 0 (nucleus) to 1 (rim)
    chromatin: np.ndarray  # H x W white noise, smoothed at render time into chromatin texture
    camera: np.ndarray  # C x H x W standard normals: the read noise

    @property
    def num_cells(self) -> int:
        return len(self.centers)


def row_generators(seed: int, split: str, row: int) -> tuple[np.random.Generator, ...]:
    """Independent streams for cells, layout and camera noise of one image.

    Separate streams keep the camera noise and cell draws fixed even though the layout's
    rejection sampling uses a variable number of draws.
    """
    sequence = np.random.SeedSequence([int(seed), SPLIT_CODES[split], int(row)])
    return tuple(np.random.default_rng(child) for child in sequence.spawn(3))


def draw_identity(config: SyntheticConfig, split: str, row: int) -> FieldIdentity:
    """Draw the cells, layout and noise of one image of the world."""
    cells_rng, layout_rng, camera_rng = row_generators(config.seed, split, row)
    n = int(cells_rng.integers(config.min_cells, config.max_cells + 1))
    m = config.cells.puncta_per_cell
    k = NUM_FIBRE_HARMONICS
    deviates = cells_rng.standard_normal((n, len(PARAMETERS)))
    irregularity = config.cells.shape_irregularity
    outline_amplitudes = irregularity * cells_rng.standard_normal((n, 3)) / np.array([1.0, 1.5, 2.0])
    outline_phases = cells_rng.uniform(0, 2 * np.pi, (n, 3))
    nucleus_offset = np.stack([cells_rng.uniform(0, 0.3, n), cells_rng.uniform(0, 2 * np.pi, n)], axis=1)
    nucleus_ellipse = np.stack([cells_rng.uniform(0, 0.15, n), cells_rng.uniform(0, np.pi, n)], axis=1)
    identity = dict(
        deviates=deviates,
        outline_amplitudes=outline_amplitudes,
        outline_phases=outline_phases,
        nucleus_offset=nucleus_offset,
        nucleus_ellipse=nucleus_ellipse,
        fibre_orders=cells_rng.integers(6, 28, (n, k)).astype(np.float64),
        fibre_phases=cells_rng.uniform(0, 2 * np.pi, (n, k)),
        fibre_amplitudes=cells_rng.uniform(0.3, 1.0, (n, k)),
        fibre_twists=cells_rng.normal(0, 0.15, (n, k)),
        stress_fibres=np.stack([cells_rng.uniform(0, np.pi, n), cells_rng.uniform(0, 2 * np.pi, n)], axis=1),
        organelle_angle=cells_rng.uniform(0, 2 * np.pi, n),
        puncta_jitter=cells_rng.standard_normal((n, m, 2)),
        puncta_angles=cells_rng.uniform(0, 2 * np.pi, (n, m)),
        puncta_radii=np.sqrt(cells_rng.uniform(0.0, 1.0, (n, m))),  # sqrt: uniform over the annulus area
    )
    reach = largest_radius(config, deviates) * (1.0 + np.abs(outline_amplitudes).sum(axis=1))
    keep, centers = place_cells(reach, layout_rng)
    identity = {name: value[keep] for name, value in identity.items()}
    size = config.image_size
    return FieldIdentity(
        centers=centers,
        chromatin=camera_rng.standard_normal((size, size)),
        camera=camera_rng.standard_normal((3, size, size)),
        **identity,
    )


def largest_radius(config: SyntheticConfig, deviates: np.ndarray) -> np.ndarray:
    """Each cell's cytoplasm radius under the condition that makes it largest.

    The layout is fixed across conditions, so cells are placed where they fit under all of them.
    """
    shifts = [0.0]
    for compound in config.compounds:
        for effect in compound.effects:
            if effect.parameter == "cytoplasm_radius":
                shifts += [effect.max_shift * compound.hill(c) for c in compound.concentrations]
    base = parameter_values(config, deviates, "cytoplasm_radius", 0.0)
    return np.maximum(base + max(shifts), MIN_CYTOPLASM_RADIUS)


def place_cells(reach: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centres inside the field, neighbours at most touching; a cell that finds no room is left out.

    Returns the indices of the placed cells and their centres (reference pixels).
    """
    kept, centers = [], []
    for i, r in enumerate(reach):
        low, high = r + 1.0, REFERENCE_SIZE - r - 1.0
        if high <= low:  # larger than the field: centre it, and only if it is alone
            if not centers:
                kept.append(i)
                centers.append(np.array([REFERENCE_SIZE / 2, REFERENCE_SIZE / 2]))
            continue
        # All tries drawn at once; the first that keeps clear of the placed cells wins.
        candidates = rng.uniform(low, high, (PLACEMENT_TRIES, 2))
        clear = np.ones(PLACEMENT_TRIES, dtype=bool)
        for j, c in zip(kept, centers):
            clear &= np.hypot(*(candidates - c).T) >= r + reach[j] - CONTACT
        if clear.any():
            kept.append(i)
            centers.append(candidates[np.argmax(clear)])
    return np.asarray(kept, dtype=np.int64), np.asarray(centers, dtype=np.float64).reshape(-1, 2)


def parameter_values(config: SyntheticConfig, deviates: np.ndarray, name: str, shift: float) -> np.ndarray:
    """One parameter of every cell: control mean + the cell's deviate * sd + the treatment's shift."""
    distribution = getattr(config.cells, name)
    return distribution.mean + deviates[:, PARAMETERS.index(name)] * distribution.sd + shift


def cell_parameters(config: SyntheticConfig, identity: FieldIdentity, treatment: Treatment) -> dict[str, np.ndarray]:
    """The morphological parameters of every cell of `identity` under `treatment`, kept physical."""
    shifts = treatment.shifts()
    values = {
        name: parameter_values(config, identity.deviates, name, shifts.get(name, 0.0)) for name in PARAMETERS
    }
    values["cytoplasm_radius"] = np.maximum(values["cytoplasm_radius"], MIN_CYTOPLASM_RADIUS)
    values["nucleus_radius"] = np.clip(values["nucleus_radius"], 1.0, MAX_NUCLEUS_FRACTION * values["cytoplasm_radius"])
    for name in ("dna_intensity", "tubulin_intensity", "actin_intensity"):
        values[name] = np.clip(values[name], 0.02, 1.0)
    values["organelle_dispersion"] = np.clip(values["organelle_dispersion"], 0.0, 1.0)
    return values
