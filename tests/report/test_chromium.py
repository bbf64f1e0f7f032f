"""The report rendered by headless Chromium (Debian's `chromium`, installed here where missing).

Checks the rendered DOM for the table, every method's grids and the plots, saves a screenshot as a
test artifact (`$PHENBENCH_ARTIFACTS` or `artifacts/` in the repository), and checks in the browser
that the pure-CSS view switch shows single channels in grey.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from phenbench.report import build_report
from tests.report.dom import page_facts

REPO = Path(__file__).resolve().parents[2]
WINDOW = (1400, 3000)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def _install_chromium() -> str:
    """Debian's chromium package through apt-get; the reason it could not be had, or ''."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install chromium"
    if os.geteuid() != 0:
        return "installing chromium needs root (apt-get install -y chromium)"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` took over 15 minutes"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"`{' '.join(command)}` failed: {tail[0]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if not found:
        reason = _install_chromium()
        found = shutil.which("chromium")
        if reason or not found:
            pytest.skip(f"headless Chromium is not available and could not be installed: {reason or 'not on PATH'}")
    return found


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("PHENBENCH_ARTIFACTS") or REPO / "artifacts") / "report"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def report_page(synthetic_store, tmp_path_factory) -> Path:
    return build_report(synthetic_store, tmp_path_factory.mktemp("report"))


def _chromium(binary: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [binary, *FLAGS, f"--user-data-dir={profile}", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def _screenshot(binary: str, page: Path, png: Path, profile: Path, window: tuple[int, int] = WINDOW) -> np.ndarray:
    _chromium(binary, profile, f"--screenshot={png}", f"--window-size={window[0]},{window[1]}", page.as_uri())
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def test_rendered_report_has_table_grids_and_plots(chromium, report_page, tmp_path, artifacts) -> None:
    page = report_page
    shutil.copy(page, artifacts / "index.html")
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    facts = page_facts(dom)
    assert {"summary-table", "comparison-table"} <= facts.ids
    assert {row[0] for row in facts.table_rows[2:]} >= {"identity", "channel-shift"}
    assert facts.methods == ["channel-shift", "identity"]
    for anchor in ("method-channel-shift", "method-identity"):
        assert {f"grid-{anchor}", f"diff-{anchor}"} <= facts.ids
    assert facts.compounds == ["shrinkin", "dispersin"] * 2  # CellProfiler features, then pixel means
    assert facts.classes["correlation-histogram"] == 1 and facts.absent == []
    written = page_facts(page.read_text(encoding="utf-8"))
    assert len(facts.img_sources) == len(written.img_sources) and facts.classes["im"] == written.classes["im"] > 100

    shot = _screenshot(chromium, page, artifacts / "report-screenshot.png", tmp_path / "profile")
    assert shot.shape == (WINDOW[1], WINDOW[0], 3)
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 500  # plots and cell images, not a blank page


def test_single_channel_view_shows_grey_images(chromium, report_page, tmp_path, artifacts) -> None:
    """Select 'DNA alone' (as clicking its label would) and compare screenshots: every pixel that
    changes is grey in the single-channel view."""
    page = report_page
    html = page.read_text(encoding="utf-8")
    single = tmp_path / "dna.html"
    single.write_text(
        html.replace('id="view-composite" checked>', 'id="view-composite">').replace('id="view-c0">', 'id="view-c0" checked>'),
        encoding="utf-8",
    )
    tall = (WINDOW[0], 3 * WINDOW[1])  # down to the image grids, below the table and the plots
    composite = _screenshot(chromium, page, tmp_path / "composite.png", tmp_path / "profile", tall)
    grey = _screenshot(chromium, single, artifacts / "report-screenshot-dna-alone.png", tmp_path / "profile", tall)
    changed = np.any(composite != grey, axis=-1)
    assert changed.sum() > 20_000  # the image tiles changed view
    pixels = grey[changed]
    assert (np.abs(pixels[:, 0] - pixels[:, 1]) <= 2).all() and (np.abs(pixels[:, 1] - pixels[:, 2]) <= 2).all()
    assert (composite[changed][:, 2] > composite[changed][:, 0] + 30).any()  # the composite had blue DNA
