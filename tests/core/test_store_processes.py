"""The store under real processes: writers killed with SIGKILL mid-write, and concurrent writers."""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from phenbench.core.store import ResultsStore
from phenbench.core.store_file import lock_path_for
from tests.core.store_workers.records import assert_same_record, record_for

WRITER = Path(__file__).parent / "store_workers" / "writer.py"
IMAGE_SIZE = 48  # big enough that each write takes a while, so kills land inside writes


def start_writer(store: Path, prefix: str, count: int, go_file: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, str(WRITER), str(store), prefix, str(count), str(IMAGE_SIZE)]
    if go_file is not None:
        args.append(str(go_file))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline().strip()
    if line != "ready":
        process.kill()
        raise AssertionError(f"writer did not start: {line!r} {process.stderr.read()}")
    return process


def check_store(store: ResultsStore, must_hold: set[str]) -> set[str]:
    """Every stored run reads back exactly as written; returns the stored ids."""
    stored = set(store.run_ids())
    assert must_hold <= stored, f"lost runs: {sorted(must_hold - stored)}"
    for run_id in stored:
        assert_same_record(store.read(run_id, samples=True), record_for(run_id, image_size=IMAGE_SIZE, n_samples=4))
    return stored


def test_writers_killed_at_random_moments_lose_nothing_written_before(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.h5")
    rng = random.Random(1234)
    acknowledged: set[str] = set()
    stored: set[str] = set()
    kills_mid_write = 0
    for attempt in range(10):
        writer = start_writer(store.path, f"kill{attempt}", count=1000)
        time.sleep(rng.uniform(0.02, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        acknowledged |= {line.split()[1] for line in writer.stdout.read().splitlines() if line.startswith("wrote ")}
        writer.stdout.close()
        writer.stderr.close()
        kills_mid_write += bool(list(tmp_path.glob(".results.h5.*.tmp")))  # a half copy was being written
        if not store.path.exists():
            assert not acknowledged  # killed before its first write landed
            continue
        # Every run acknowledged so far and every run seen before is still there, intact. At most
        # one more (written, then killed before it could print) may be there too.
        now = check_store(store, must_hold=acknowledged | stored)
        assert len(now - acknowledged - stored) <= 1
        stored = now
    print(f"{len(stored)} runs stored; {kills_mid_write} of 10 kills landed inside a write")
    assert len(stored) >= 5, "the writers barely wrote anything: the test checked too little"
    assert kills_mid_write >= 1, "no kill landed inside a write: the test checked too little"
    # A killed writer leaves the store writable: the lock died with it, the next writer cleans up.
    store.write(record_for("after", image_size=IMAGE_SIZE, n_samples=4))
    assert not list(tmp_path.glob(".results.h5.*.tmp"))
    check_store(store, must_hold=stored | {"after"})


def test_concurrent_writers_all_land_while_readers_read(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.h5")
    go = tmp_path / "go"
    writers = [start_writer(store.path, f"w{i}", count=6, go_file=go) for i in range(3)]
    go.touch()
    reads = 0
    while any(w.poll() is None for w in writers):
        if store.exists():  # a reader in the middle of the writes always sees a whole store
            for run_id in store.run_ids()[-2:]:
                store.read(run_id)
            reads += 1
        time.sleep(0.01)
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        assert out.count("wrote ") == 6
    expected = {f"w{i}-{k:03d}" for i in range(3) for k in range(6)}
    assert check_store(store, must_hold=expected) == expected
    assert reads >= 1


def test_a_writer_waits_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    """While another process holds the lock, a write blocks, then lands once it is released."""
    store_path = tmp_path / "results.h5"
    with open(lock_path_for(store_path), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        writer = start_writer(store_path, "late", count=2)
        time.sleep(0.5)
        assert writer.poll() is None and not store_path.exists()  # blocked on the lock
        fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert ResultsStore(store_path).run_ids() == ["late-000", "late-001"]
