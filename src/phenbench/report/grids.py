"""Which stored images go where in a method's grids (pixels only; `sections.py` makes the HTML).

The store keeps a few images per TARGET condition, each translated image beside the source image
it came from. A grid shows a fixed set of source images across all targets, so each source must
be found again under every target: sources are matched by their exact stored bytes. With
`pairs: all`, a source image appears under every target except its own condition, which is how
its condition is recognised (the store does not record it per image).

Rows of the image grid: per source, its translations (and, where the dataset has them, the true
counterfactuals); then real images of each condition for reference, each followed by its
reconstruction where the translator inverts. Rows of the difference grid: per source, translated
minus source for every target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Tile:
    """One cell: an image (C x H x W pixel values), a difference pair, or a note saying why not."""

    image: np.ndarray | None = None
    difference_of: tuple[np.ndarray, np.ndarray] | None = None  # (translated, source)
    note: str = ""
    title: str = ""


@dataclass
class GridRow:
    label: str
    kind: str  # "translated", "counterfactual", "real", "reconstruction", "difference"
    lead: Tile  # the first column: the source image, or empty
    tiles: list[Tile]


@dataclass
class MethodGrids:
    """A method's image grid and difference grid over `columns` (target conditions in dose order)."""

    columns: list[str]
    images: list[GridRow] = field(default_factory=list)
    differences: list[GridRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source_keys: list[str] = field(default_factory=list)  # `image_key` of each source row, in order


@dataclass
class SourcePick:
    """One source image and where it sits under each target: target -> index in that target's samples."""

    image: np.ndarray
    where: dict[str, int]
    condition: str | None  # its own condition, where it can be told


def image_key(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def choose_sources(
    samples: dict[str, dict[str, np.ndarray]],
    columns: Sequence[str],
    count: int,
    source_condition: str | None = None,
    preferred: Sequence[str] = (),
) -> list[SourcePick]:
    """The `count` source images that appear under the most targets (ties: those of the condition
    shown first, i.e. the control, then the first stored). `source_condition`: the condition of
    every source where the run says so (`pairs: from-control`) and the samples cannot.
    `preferred`: image keys to show first where stored (the sources another method's grid shows,
    so that every method's grid starts from the same cells)."""
    where: dict[str, dict[str, int]] = {}
    images: dict[str, np.ndarray] = {}
    for target in columns:
        sources = samples.get(target, {}).get("source")
        if sources is None:
            continue
        for index, image in enumerate(sources):
            key = image_key(image)
            images.setdefault(key, image)
            where.setdefault(key, {}).setdefault(target, index)
    stored_targets = [t for t in columns if "source" in samples.get(t, {})]
    condition_of = {}
    for key, targets in where.items():
        absent = [t for t in stored_targets if t not in targets]
        # Under `pairs: all` a source is translated to every condition but its own.
        condition_of[key] = absent[0] if len(absent) == 1 else source_condition
    first_seen = {key: rank for rank, key in enumerate(where)}
    position = {name: rank for rank, name in enumerate(columns)}  # control first: its images lead

    wanted = {key: rank for rank, key in enumerate(preferred)}

    def preference(key: str) -> tuple[int, int, int, int]:
        return (wanted.get(key, len(wanted)), -len(where[key]), position.get(condition_of[key], len(columns)), first_seen[key])

    chosen = sorted(where, key=preference)[:count]
    return [SourcePick(images[key], where[key], condition_of[key]) for key in chosen]


def build_grids(
    samples: dict[str, dict[str, np.ndarray]],
    columns: Sequence[str],
    *,
    sources: int,
    real_per_condition: int,
    source_condition: str | None = None,
    preferred: Sequence[str] = (),
) -> MethodGrids:
    """The image and difference grids of one run's stored samples."""
    columns = list(columns)
    grids = MethodGrids(columns=columns)
    missing_targets = [t for t in columns if t not in samples]
    if missing_targets:
        grids.notes.append(
            f"No images were translated to {', '.join(missing_targets)} in this run (its pairs did not "
            "include them), so those columns hold only what else is stored."
        )
    picks = choose_sources(samples, columns, sources, source_condition, preferred)
    grids.source_keys = [image_key(p.image) for p in picks]
    if not picks:
        grids.notes.append("This run stored no source images, so there is nothing to show translated.")
    has_counterfactuals = any("counterfactual" in samples.get(t, {}) for t in columns)
    for number, pick in enumerate(picks, start=1):
        from_text = f" ({pick.condition})" if pick.condition else ""
        lead = Tile(image=pick.image, title=f"source {number}{from_text}")
        grids.images.append(GridRow(f"source {number}{from_text} → translated", "translated", lead,
                                    [_translated_tile(samples, pick, t, "translated") for t in columns]))
        if has_counterfactuals:
            grids.images.append(GridRow(f"source {number}: true counterfactual", "counterfactual", Tile(),
                                        [_translated_tile(samples, pick, t, "counterfactual") for t in columns]))
        grids.differences.append(GridRow(f"source {number}{from_text}", "difference", lead,
                                         [_difference_tile(samples, pick, t) for t in columns]))
    has_reconstructions = any("reconstruction" in samples.get(t, {}) for t in columns)
    for j in range(real_per_condition):
        reals = [_stored_tile(samples, t, "real", j) for t in columns]
        if source_condition in columns and reals[columns.index(source_condition)].image is None:
            # The declared source condition has no samples of its own, but its sources are its real images.
            reals[columns.index(source_condition)] = _source_as_real(samples, source_condition, j)
        if all(tile.image is None for tile in reals):
            break
        grids.images.append(GridRow(f"real image {j + 1}", "real", Tile(), reals))
        if has_reconstructions:
            grids.images.append(GridRow(f"reconstruction of real {j + 1}", "reconstruction", Tile(),
                                        [_stored_tile(samples, t, "reconstruction", j) for t in columns]))
    return grids


def _translated_tile(samples: dict, pick: SourcePick, target: str, kind: str) -> Tile:
    if target == pick.condition:
        return Tile(note="source's own condition")
    index = pick.where.get(target)
    stored = samples.get(target, {}).get(kind)
    if index is None or stored is None:
        reason = "not translated to this condition" if target not in samples else "not among the stored samples"
        return Tile(note=reason if kind == "translated" or stored is not None else f"no {kind} stored")
    return Tile(image=stored[index], title=f"{kind} to {target}")


def _difference_tile(samples: dict, pick: SourcePick, target: str) -> Tile:
    tile = _translated_tile(samples, pick, target, "translated")
    if tile.image is None:
        return tile
    return Tile(difference_of=(tile.image, pick.image), title=f"translated to {target} minus source")


def _stored_tile(samples: dict, target: str, kind: str, index: int) -> Tile:
    stored = samples.get(target, {}).get(kind)
    if stored is None or index >= len(stored):
        return Tile(note=f"no {kind} image stored")
    return Tile(image=stored[index], title=f"{kind} {target} #{index + 1}")


def _source_as_real(samples: dict, condition: str, index: int) -> Tile:
    for entry in samples.values():
        sources = entry.get("source")
        if sources is not None and index < len(sources):
            return Tile(image=sources[index], title=f"real {condition} #{index + 1} (a source image)")
    return Tile(note="no real image stored")
