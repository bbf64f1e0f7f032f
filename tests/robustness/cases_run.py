"""Corpus cases for `phenbench run`: the run config, the store, saved models and the data sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.robustness.case import Case, copy, edit_manifest, folder, rewrite_npz, write

RUN = ("run", "-q", "--config", "{w}/tiny.yaml", "--store", "results.h5", "--work-dir", "runs")
YAML_RUN = ("run", "-q", "--config", "run.yaml", "--store", "results.h5", "--work-dir", "runs")
TINY = "dataset_config: {image_size: 32, train_per_condition: 2, test_per_condition: 2}\nmetrics: [counterfactual]\n"
CROPS = ("run", "-q", "-d", "bbbc021", "--metrics", "reconstruction", "--store", "results.h5", "--work-dir", "runs")
FOLDERS = ("run", "-q", "--metrics", "reconstruction", "--store", "results.h5", "--work-dir", "runs")
WORLD = ("run", "-q", "--data", "world.yaml", "--metrics", "counterfactual", "--store", "results.h5", "--work-dir", "runs")
SMALL_WORLD = "image_size: 32\ntrain_per_condition: 2\ntest_per_condition: 2\n"


def yaml_case(name: str, text: str, *says: str, args: tuple[str, ...] = (), nested: bool = False) -> Case:
    """A run whose run.yaml holds `text` (on top of the tiny synthetic settings). Errors in the run
    config name the file; those of a nested component config name the component and the field."""
    named = says if nested else ("run.yaml",) + says
    return Case(name, YAML_RUN + args, says=named, setup=(write("run.yaml", TINY + text),))


def stored_runs(count: int):
    def check(case: Path, world: Path) -> None:
        from phenbench.core.store import ResultsStore

        store = ResultsStore(case / "results.h5")
        assert len(store.run_ids()) == count
        assert all(s == "complete" for s in store.runs_frame()["status"])

    return check


def earlier_run_kept(case: Path, world: Path) -> None:
    from phenbench.core.store import ResultsStore

    [earlier] = ResultsStore(world / "store.h5").run_ids()
    after = ResultsStore(case / "results.h5")
    assert len(after.run_ids()) == 2 and earlier in after.run_ids()
    kept, original = after.read(earlier, samples=True), ResultsStore(world / "store.h5").read(earlier, samples=True)
    assert kept.metrics == original.metrics and kept.configs == original.configs


CONFIG_CASES = [
    Case("run-tiny-synthetic", RUN, exit=0, check=stored_runs(1)),
    Case("run-seed-negative", RUN + ("--seed", "-5"), says=("seed", "-5")),
    Case("run-max-test-negative", RUN + ("--max-test-per-condition", "-3"), says=("max_test_per_condition",)),
    Case("run-max-test-zero", RUN + ("--max-test-per-condition", "0"), says=("max_test_per_condition", "nothing")),
    Case("run-max-test-one", RUN + ("--max-test-per-condition", "1"), exit=0, check=stored_runs(1)),
    yaml_case("yaml-seed-text", "seed: abc\n", "seed", "'abc'"),
    yaml_case("yaml-seed-fraction", "seed: 1.5\n", "seed", "1.5"),
    yaml_case("yaml-max-test-words", "max_test_per_condition: four\n", "max_test_per_condition"),
    yaml_case("yaml-translator-list", "translator: [identity]\n", "translator"),
    yaml_case("yaml-dataset-config-list", "dataset_config: [1, 2]\n", "dataset_config"),
    yaml_case("yaml-metric-options-list", "metric_options: {counterfactual: [1]}\n", "metric_options"),
    Case("yaml-progress-text", tuple(a for a in YAML_RUN if a != "-q"), says=("run.yaml", "progress"),
         setup=(write("run.yaml", TINY + "progress: maybe\n"),)),
    yaml_case("yaml-batch-size-zero", "batch_size: 0\n", "batch_size"),
    yaml_case("yaml-unknown-key", "sead: 1\n", "sead", "Valid keys"),
    yaml_case("yaml-image-size-text", "dataset_config: {image_size: big}\n", "synthetic", "image_size", nested=True),
    yaml_case("yaml-pairs-unknown-condition", "pairs: [[DMSO, nope]]\n", "condition 'nope'", nested=True),
    yaml_case("yaml-steps-text", "translator_config: {steps: abc}\n", "stargan", "steps", "'abc'",
              args=("-t", "stargan", "-p", "quick"), nested=True),
    yaml_case("yaml-translator-key-typo", "translator_config: {stepz: 3}\n", "stargan", "stepz",
              args=("-t", "stargan", "-p", "quick"), nested=True),
    Case("yaml-invalid", YAML_RUN, says=("run.yaml", "not valid YAML"), setup=(write("run.yaml", "seed: [1\n"),)),
    Case("yaml-not-a-mapping", YAML_RUN, says=("run.yaml", "mapping"), setup=(write("run.yaml", "- seed\n"),)),
    Case("yaml-binary", YAML_RUN, says=("run.yaml",), setup=(write("run.yaml", b"\xff\xfe\x00garbage"),)),
    Case("config-is-a-folder", RUN[:2] + ("--config", "conf"), says=("conf", "folder"), setup=(folder("conf"),)),
    Case("config-missing", RUN[:2] + ("--config", "nope.yaml"), says=("nope.yaml",)),
    Case("device-banana", RUN + ("--device", "banana"), says=("device", "banana")),
    Case("device-missing-gpu", RUN + ("--device", "cuda:7"), says=("cuda:7",)),
    Case("device-cpu", RUN + ("--device", "cpu"), exit=0, check=stored_runs(1)),
    Case("preset-for-identity", RUN + ("-p", "quick"), says=("identity", "preset")),
    Case("unknown-translator", RUN + ("-t", "phendif"), says=("phendif", "phendiff")),
    Case("unknown-metric", RUN + ("--metrics", "fidd"), says=("fidd",)),
    Case("unknown-dataset", RUN + ("-d", "synthetik"), says=("synthetik",)),
    Case("unknown-protocol", RUN + ("--protocol", "impa-bbbc02"), says=("impa-bbbc02", "impa-bbbc021")),
    Case("batch-matched-needs-from-control", RUN + ("--batch-matched", "--pairs", "all"),
         says=("match_batches", "from-control")),
]

STORE_CASES = [
    Case("store-is-a-folder", RUN[:4] + ("--store", "sub"), says=("sub", "folder"), setup=(folder("sub"),)),
    Case("store-foreign-file", RUN[:4] + ("--store", "notes.h5"), says=("notes.h5",), setup=(copy("notes.h5"),)),
    Case("store-damaged-heap", RUN[:4] + ("--store", "damaged.h5"), says=("damaged.h5",), setup=(copy("damaged.h5"),)),
    Case("store-folder-missing", RUN[:4] + ("--store", "nowhere/results.h5"), says=("nowhere",)),
    Case("work-dir-is-a-file", RUN[:6] + ("--work-dir", "notes.h5"), says=("notes.h5", "--work-dir"),
         setup=(copy("notes.h5"),)),
    Case("store-existing-appended", RUN, exit=0, setup=(copy("store.h5", to="results.h5"),),
         may_change=("results.h5",), check=earlier_run_kept),
]

MODEL_CASES = [
    Case("checkpoint-good", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images16", "--checkpoint", "model"), exit=0,
         setup=(copy("model"),), check=stored_runs(1)),
    Case("checkpoint-truncated-json", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images16", "--checkpoint", "model"),
         says=("translator.json",), setup=(copy("model"), write("model/translator.json", '{"translator": "ident'))),
    Case("checkpoint-json-list", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images16", "--checkpoint", "model"),
         says=("translator.json",), setup=(copy("model"), write("model/translator.json", "[1, 2]"))),
    Case("checkpoint-missing", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images16", "--checkpoint", "nope"),
         says=("nope",)),
    Case("checkpoint-other-data", RUN + ("--checkpoint", "{w}/model"), says=("model", "conditions")),
    Case("checkpoint-preset-unlike-model", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images16", "--checkpoint",
         "{w}/model", "-p", "quick"), says=("identity", "preset")),
]


def _dmso_only(case: Path, world: Path) -> None:
    import pandas as pd

    table = pd.read_csv(case / "crops" / "manifest.csv")
    table[table["compound"] == "DMSO"].to_csv(case / "crops" / "manifest.csv", index=False)


def _poison(value: float):
    def change(crops: np.ndarray) -> np.ndarray:
        crops = crops.astype(np.float32)
        crops[3, 2, 2, 0] = value
        return crops

    return change


def _golgi(names: tuple[str, ...]):
    def setup(case: Path, world: Path) -> None:
        from tests.robustness.world import write_pngs

        write_pngs(case / "golgi", names, np.uint8, count=8, channels=3)

    return setup


DATA_CASES = [
    Case("crops-good", CROPS + ("--data", "crops"), exit=0, setup=(copy("crops"),), check=stored_runs(1)),
    Case("crops-mixed-dtypes", CROPS + ("--data", "crops"), says=("taxol1.npz", "float32", "uint16"),
         setup=(copy("crops"), rewrite_npz("crops/taxol1.npz", lambda c: c.astype(np.float32) + 0.5))),
    Case("crops-nan", CROPS + ("--data", "crops"), says=("taxol1.npz", "row 3", "NaN"),
         setup=(copy("crops"), rewrite_npz("crops/DMSO.npz", _poison(1.0)), rewrite_npz("crops/taxol1.npz", _poison(np.nan)))),
    Case("crops-inf", CROPS + ("--data", "crops"), says=("DMSO.npz", "row 3"),
         setup=(copy("crops"), rewrite_npz("crops/DMSO.npz", _poison(np.inf)), rewrite_npz("crops/taxol1.npz", _poison(1.0)))),
    Case("crops-row-negative", CROPS + ("--data", "crops"), says=("line 3", "row -1", "DMSO.npz"),
         setup=(copy("crops"), edit_manifest("crops", 1, "row_in_file", "-1"))),
    Case("crops-row-beyond", CROPS + ("--data", "crops"), says=("line 12", "row 99", "taxol1.npz"),
         setup=(copy("crops"), edit_manifest("crops", 10, "row_in_file", "99"))),
    Case("crops-row-fraction", CROPS + ("--data", "crops"), says=("line 4", "row_in_file"),
         setup=(copy("crops"), edit_manifest("crops", 2, "row_in_file", "1.5"))),
    Case("crops-concentration-words", CROPS + ("--data", "crops"), says=("line 11", "concentration", "ten"),
         setup=(copy("crops"), edit_manifest("crops", 9, "concentration", "ten"))),
    Case("crops-empty-manifest", CROPS + ("--data", "crops"), says=("manifest.csv",),
         setup=(copy("crops"), write("crops/manifest.csv", b""))),
    Case("crops-manifest-as-data", CROPS + ("--data", "crops/manifest.csv"), says=("manifest.csv", "folder"),
         setup=(copy("crops"),)),
    Case("crops-npz-missing", CROPS + ("--data", "crops"), says=("taxol1.npz", "missing"),
         setup=(copy("crops"), lambda case, world: (case / "crops" / "taxol1.npz").unlink())),
    Case("crops-npz-corrupt", CROPS + ("--data", "crops"), says=("taxol1.npz", "corrupt"),
         setup=(copy("crops"), write("crops/taxol1.npz", b"PK\x03\x04 broken"))),
    Case("crops-only-dmso", CROPS + ("--data", "crops"), says=("single condition", "DMSO"),
         setup=(copy("crops"), _dmso_only)),
    Case("imagefolder-one-class", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images8"), says=("single condition",)),
    Case("imagefolder-good", FOLDERS + ("-d", "imagefolder", "--data", "{w}/images16"), exit=0, check=stored_runs(1)),
    Case("golgi-three-folders", FOLDERS + ("-d", "golgi", "--data", "golgi"), says=("golgi", "DMSO", "0, 1, 2"),
         setup=(_golgi(("0", "1", "2")),)),
    Case("golgi-paper-folders", FOLDERS + ("-d", "golgi", "--data", "golgi"), exit=0, setup=(_golgi(("0", "1")),),
         check=stored_runs(1)),
    Case("golgi-mapped-three-folders", FOLDERS + ("-d", "golgi", "--data", "golgi"), exit=0,
         setup=(_golgi(("0", "1", "2")), write("golgi/conditions.txt", "0 -> DMSO\n1 -> noc@1\n2 -> noc@2\n")),
         check=stored_runs(1)),
    Case("golgi-binary-conditions-file", FOLDERS + ("-d", "golgi", "--data", "golgi"), says=("conditions.txt",),
         setup=(_golgi(("0", "1")), write("golgi/conditions.txt", b"\xff\xfe\x00\x81"))),
    Case("crops-binary-manifest", CROPS + ("--data", "crops"), says=("manifest.csv",),
         setup=(copy("crops"), write("crops/manifest.csv", b"\x89PNG\r\n\x1a\n\xff\xfe"))),
    Case("synthetic-world-good", WORLD, exit=0, setup=(write("world.yaml", SMALL_WORLD),), check=stored_runs(1)),
    Case("synthetic-world-binary", WORLD, says=("world.yaml",), setup=(write("world.yaml", b"\xff\xfe\x00"),)),
    Case("synthetic-world-not-yaml", WORLD, says=("world.yaml", "YAML"), setup=(write("world.yaml", "a: [1\n"),)),
    Case("synthetic-world-wrong-type", WORLD, says=("world.yaml", "test_per_condition"),
         setup=(write("world.yaml", SMALL_WORLD.replace("test_per_condition: 2", "test_per_condition: two")),)),
    Case("data-missing", CROPS + ("--data", "nowhere"), says=("nowhere",)),
    Case("bbbc021-without-data", CROPS, says=("--data",)),
    Case("data-raw-release", CROPS + ("--data", "{w}/raw"), says=("raw", "phenbench data prepare")),
    Case("data-results-store", CROPS + ("--data", "{w}/store.h5"), says=("store.h5", "not a phenbench crop cache")),
]

CASES = CONFIG_CASES + STORE_CASES + MODEL_CASES + DATA_CASES
