"""`phenbench run` under torchrun: each process translates its share, the stored values are a one-process run's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from phenbench.core.store import ResultsStore
from tests.torchrun import run_two_processes, single_thread_env

# A small synthetic world (4 test images a condition, translated 2 at a time: several batches to deal
# out) and a tiny CellFlux, whose start noise per image makes any change of batch visible.
TINY = """dataset_config: {image_size: 32, train_per_condition: 4, test_per_condition: 4}
metrics: [counterfactual, reconstruction, segmentation-failures, source-fidelity]
batch_size: 2
translator_config: {block_out_channels: [8, 16], layers_per_block: 1, attention_levels: [1], norm_num_groups: 4,
                    steps: 2, batch_size: 4, sampling_steps: 2}
"""


def test_a_sharded_run_stores_what_one_process_computes(tmp_path) -> None:
    env = single_thread_env()
    (tmp_path / "tiny.yaml").write_text(TINY)
    common = ["run", "-q", "-t", "cellflux", "--config", "tiny.yaml", "--pairs", "from-control", "--device", "cpu"]
    one = subprocess.run([sys.executable, "-m", "phenbench.cli", *common, "--store", "one.h5"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    model = next(tmp_path.glob("runs/cellflux-*/model"))
    two = run_two_processes("-m", "phenbench.cli", *common, "--checkpoint", str(model), "--store", "two.h5",
                            cwd=tmp_path, timeout=600)
    # Each rank's one-line error, not only the launcher's report of the rank that was stopped.
    assert two.returncode == 0, "\n".join(line for line in two.stderr.splitlines() if "Error" in line)[-3000:]
    store = ResultsStore(tmp_path / "two.h5")
    runs = store.runs_frame()
    assert sorted(runs["translator"]) == ["cellflux", "identity"]  # one record each, not one per process
    cellflux = [r for r in store.run_ids() if "cellflux" in r]
    assert store.timings(cellflux)[cellflux[0]]["processes"] == 2
    expected = ResultsStore(tmp_path / "one.h5").metrics_frame()
    got = store.metrics_frame()
    expected, got = expected[~expected["is_floor"]], got[~got["is_floor"]]
    for translator in ("cellflux", "identity"):
        want = expected[expected["run_id"].str.contains(translator)].set_index(["metric", "condition"])["value"]
        have = got[got["run_id"].str.contains(translator)].set_index(["metric", "condition"])["value"]
        assert len(want) > 10 and set(want.index) == set(have.index)
        np.testing.assert_allclose(have.loc[want.index].to_numpy(float), want.to_numpy(float), rtol=1e-5, atol=1e-6,
                                   equal_nan=True)
