"""Render one field of cells to a 3-channel image (DNA, tubulin, actin), vectorised with numpy.

What each channel shows, per cell:
- DNA: a slightly elliptical nucleus with smooth chromatin texture.
- tubulin: the cytoplasm filled with fibres radiating from the cell centre (dimmer over the
  nucleus), plus the organelle: bright puncta that sit packed beside the nucleus when
  `organelle_dispersion` is 0 and spread through the cytoplasm as it goes to 1 (Golgi-like).
- actin: the same cell outline, brightest in a cortical rim at the border, with faint cables.

Everything is computed in reference pixels (a 64 x 64 field) on the image's own pixel grid, so a
world rendered at 32 or 128 pixels shows the same cells at another resolution.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import expit

from phenbench.datasets.synthetic.config import SyntheticConfig
from phenbench.datasets.synthetic.world import REFERENCE_SIZE, FieldIdentity

CHANNELS: tuple[str, ...] = ("DNA", "tubulin", "actin")
CELL_EDGE = 0.6  # width of the soft cell border, reference pixels
NUCLEUS_EDGE = 0.45
RIM_WIDTH = 1.6  # decay length of the cortical actin rim
CABLE_PERIOD = 3.2  # spacing of actin cables
CHROMATIN_GRAIN = 0.9  # smoothing of the chromatin noise
PUNCTUM_SIGMA = 0.65  # size of one organelle punctum
PUNCTUM_BRIGHTNESS = 0.5
ORGANELLE_GAP = 2.2  # distance of the compact organelle from the nuclear border
ORGANELLE_ARC = 0.35  # angular spread (radians) of the compact organelle's puncta along the nucleus
ORGANELLE_DEPTH = 0.6  # their radial spread (reference pixels)
WINDOW_MARGIN = 4.5  # reference pixels rendered around each cell's outline
TUBULIN_OVER_NUCLEUS = 0.4  # tubulin left where the nucleus sits (the nucleus excludes fibres)


def pixel_grid(image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every pixel centre, in reference pixels (each H x W)."""
    coords = (np.arange(image_size) + 0.5) * (REFERENCE_SIZE / image_size)
    return np.meshgrid(coords, coords)


def render_field(config: SyntheticConfig, identity: FieldIdentity, params: dict[str, np.ndarray]) -> np.ndarray:
    """The image of `identity` with cell parameters `params`: float32 3 x H x W in [-1, 1]."""
    size = config.image_size
    scale = size / REFERENCE_SIZE
    texture = config.noise.texture
    x, y = pixel_grid(size)
    chromatin = gaussian_filter(identity.chromatin, CHROMATIN_GRAIN * scale, mode="wrap")
    chromatin /= chromatin.std() + 1e-8
    dna, tubulin, actin = (np.zeros((size, size)) for _ in range(3))
    puncta_x, puncta_y = [], []
    for i in range(identity.num_cells):
        # Only the cell's neighbourhood: beyond WINDOW_MARGIN its layers are below the read noise.
        reach = params["cytoplasm_radius"][i] * (1.0 + np.abs(identity.outline_amplitudes[i]).sum()) + WINDOW_MARGIN
        (cx, cy), low = identity.centers[i], lambda v: max(0, int(np.floor((v - reach) * scale)))
        high = lambda v: min(size, int(np.ceil((v + reach) * scale)) + 1)
        window = (slice(low(cy), high(cy)), slice(low(cx), high(cx)))
        layers = _render_cell(identity, params, i, x[window], y[window], chromatin[window], texture)
        for canvas, layer in zip((dna, tubulin, actin), layers):
            np.maximum(canvas[window], layer, out=canvas[window])
        puncta_x.append(layers[3][0])
        puncta_y.append(layers[3][1])
    puncta = splat_puncta(np.concatenate(puncta_x), np.concatenate(puncta_y), size) if puncta_x else 0.0
    image = np.stack([dna, tubulin + puncta, actin]) + config.noise.background
    if config.noise.blur > 0:  # the microscope's point-spread function
        for channel in image:
            gaussian_filter(channel, config.noise.blur * scale, output=channel, mode="nearest")
    image += config.noise.pixel * identity.camera
    return (2.0 * np.clip(image, 0.0, 1.0) - 1.0).astype(np.float32)


def _render_cell(
    identity: FieldIdentity,
    params: dict[str, np.ndarray],
    i: int,
    x: np.ndarray,
    y: np.ndarray,
    chromatin: np.ndarray,
    texture: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """DNA, tubulin and actin layers of cell `i`, and its puncta positions (reference pixels)."""
    cx, cy = identity.centers[i]
    dx, dy = x - cx, y - cy
    distance, angle = np.hypot(dx, dy), np.arctan2(dy, dx)

    radius = params["cytoplasm_radius"][i]
    orders = np.arange(2, 5)[:, None, None]
    wobble = identity.outline_amplitudes[i][:, None, None] * np.cos(
        orders * angle + identity.outline_phases[i][:, None, None]
    )
    outline = radius * (1.0 + wobble.sum(axis=0))
    cytoplasm = expit((outline - distance) / CELL_EDGE)

    nucleus_radius = params["nucleus_radius"][i]
    offset_fraction, offset_angle = identity.nucleus_offset[i]
    offset = offset_fraction * (radius - nucleus_radius)
    nx, ny = cx + offset * np.cos(offset_angle), cy + offset * np.sin(offset_angle)
    ndx, ndy = x - nx, y - ny
    eccentricity, orientation = identity.nucleus_ellipse[i]
    nucleus_outline = nucleus_radius * (1.0 + eccentricity * np.cos(2.0 * (np.arctan2(ndy, ndx) - orientation)))
    nucleus = expit((nucleus_outline - np.hypot(ndx, ndy)) / NUCLEUS_EDGE)
    dna = nucleus * params["dna_intensity"][i] * np.clip(0.85 + 0.2 * texture * chromatin, 0.4, 1.3)

    # Microtubules: high angular harmonics of the angle around the centre make radial streaks; a
    # small radius-dependent phase ("twist") bends them.
    amplitudes = identity.fibre_amplitudes[i][:, None, None]
    waves = amplitudes * np.cos(
        identity.fibre_orders[i][:, None, None] * angle
        + identity.fibre_phases[i][:, None, None]
        + identity.fibre_twists[i][:, None, None] * distance
    )
    fibres = waves.sum(axis=0) / np.sqrt(0.5 * np.sum(identity.fibre_amplitudes[i] ** 2))
    fibres = np.clip(0.5 + 0.25 * texture * fibres, 0.0, 1.0)
    tubulin = cytoplasm * params["tubulin_intensity"][i] * (0.55 + 0.45 * fibres)
    tubulin *= 1.0 - (1.0 - TUBULIN_OVER_NUCLEUS) * nucleus

    rim = np.exp(-np.clip(outline - distance, 0.0, None) / RIM_WIDTH)
    cable_angle, cable_phase = identity.stress_fibres[i]
    along = dx * np.cos(cable_angle) + dy * np.sin(cable_angle)
    cables = np.cos(2.0 * np.pi * along / CABLE_PERIOD + cable_phase)
    actin = cytoplasm * params["actin_intensity"][i] * (0.2 + 0.8 * rim) * (1.0 + 0.15 * texture * cables)

    return dna, tubulin, actin, organelle_puncta(identity, params, i, (nx, ny))


def organelle_puncta(
    identity: FieldIdentity,
    params: dict[str, np.ndarray],
    i: int,
    nucleus_center: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Positions (x, y) of cell `i`'s puncta: between the compact and the scattered layout.

    Both layouts are fixed for the cell; `organelle_dispersion` (0 to 1) sets how far every
    punctum has moved from the compact layout toward the scattered one.
    """
    nx, ny = nucleus_center
    nucleus_radius, radius = params["nucleus_radius"][i], params["cytoplasm_radius"][i]
    direction = identity.organelle_angle[i]
    # Polar coordinates around the nucleus centre, so that puncta travel around the nucleus and
    # never across it. Compact: a crescent hugging the nucleus, like a perinuclear Golgi ribbon.
    compact_angle = direction + ORGANELLE_ARC * identity.puncta_jitter[i, :, 0]
    compact_radius = nucleus_radius + ORGANELLE_GAP + ORGANELLE_DEPTH * identity.puncta_jitter[i, :, 1]
    offset = identity.nucleus_offset[i, 0] * (radius - nucleus_radius)
    inner = nucleus_radius + 1.5
    outer = max(0.8 * radius - offset, inner)  # stay inside the cell whatever the nucleus offset
    scattered_radius = inner + identity.puncta_radii[i] * (outer - inner)
    turn = np.angle(np.exp(1j * (identity.puncta_angles[i] - direction)))  # in (-pi, pi]
    # Each punctum moves from its place in the crescent by its scattered site's offset from the
    # crescent's centre. (Moving it straight to its scattered site would first shrink the
    # crescent: the spread would dip before rising, and not follow the dose monotonically.)
    dispersion = params["organelle_dispersion"][i]
    angle = compact_angle + dispersion * turn
    distance = np.maximum(
        compact_radius + dispersion * (scattered_radius - nucleus_radius - ORGANELLE_GAP), nucleus_radius + 1.0
    )
    return nx + distance * np.cos(angle), ny + distance * np.sin(angle)


def splat_puncta(px: np.ndarray, py: np.ndarray, size: int) -> np.ndarray:
    """Gaussian puncta of peak `PUNCTUM_BRIGHTNESS` at (px, py), reference pixels.

    Each punctum is spread bilinearly onto its four nearest pixels and the canvas is blurred once:
    the same picture as summing a Gaussian per punctum, at a fraction of the cost.
    """
    scale = size / REFERENCE_SIZE
    u, v = px * scale - 0.5, py * scale - 0.5  # pixel-centre coordinates
    canvas = np.zeros((size + 2, size + 2))  # one pixel of padding on each side for the corners
    u0, v0 = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    fu, fv = u - u0, v - v0
    for du, dv, weight in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)), (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):
        np.add.at(canvas, (np.clip(v0 + dv + 1, 0, size + 1), np.clip(u0 + du + 1, 0, size + 1)), weight)
    sigma = PUNCTUM_SIGMA * scale
    blurred = gaussian_filter(canvas, sigma, mode="constant")[1:-1, 1:-1]
    return PUNCTUM_BRIGHTNESS * 2.0 * np.pi * sigma**2 * blurred
