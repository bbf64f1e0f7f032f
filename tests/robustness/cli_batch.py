"""Run many `phenbench` command lines as separate processes, paying Python's imports only once.

    python -m tests.robustness.cli_batch CASES.json RESULTS.json

Each case is run in its own process, forked from this one after the heavy modules (torch, h5py,
pandas, phenbench) are imported: a real process with its own exit status, working folder,
environment, stdout and stderr, and Python's own traceback printing for anything uncaught, like
`phenbench ...` from a shell. Forking costs milliseconds where a fresh interpreter costs seconds,
which is what lets a corpus of ~100 cases run in the default test suite.

Around each case the parent hashes the files under the case's `protect` folders (a content hash
for files up to 1 MB, size and modification time above), so the test can say which pre-existing
file a command changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

BIG = 1 << 20


def preload() -> None:
    """Import what most commands need, once, before forking."""
    import h5py  # noqa: F401
    import pandas  # noqa: F401
    import torch

    torch.set_num_threads(1)
    import phenbench.apply.runner  # noqa: F401
    import phenbench.cli  # noqa: F401
    import phenbench.core.compare  # noqa: F401
    import phenbench.core.runner  # noqa: F401
    import phenbench.core.store  # noqa: F401
    import phenbench.datasets.bbbc021.adapter  # noqa: F401
    import phenbench.datasets.bbbc021.prepare  # noqa: F401
    import phenbench.datasets.class_folders  # noqa: F401
    import phenbench.datasets.synthetic  # noqa: F401
    import phenbench.metrics.counterfactual  # noqa: F401
    import phenbench.metrics.reconstruction  # noqa: F401
    import phenbench.report.build  # noqa: F401
    import phenbench.translators.identity.translator  # noqa: F401
    import phenbench.translators.stargan.translator  # noqa: F401


def snapshot(folders: list[str]) -> dict[str, str]:
    """Path -> fingerprint of every file under `folders`."""
    prints = {}
    for folder in folders:
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                try:
                    stat = os.stat(path)
                    if stat.st_size > BIG:
                        prints[path] = f"{stat.st_size}:{stat.st_mtime_ns}"
                    else:
                        with open(path, "rb") as handle:
                            prints[path] = hashlib.sha256(handle.read()).hexdigest()
                except OSError:
                    continue
    return prints


def run_case(case: dict) -> dict:
    out_path, err_path = case["stdout"], case["stderr"]
    sys.stdout.flush()
    sys.stderr.flush()
    before = snapshot(case["protect"])
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become `phenbench <args>` in the case's folder
        code = 1
        try:
            os.chdir(case["cwd"])
            os.environ.update(case["env"])
            for fd, path in ((1, out_path), (2, err_path)):
                target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(target, fd)
                os.close(target)
            from phenbench.cli import main

            try:
                main(case["args"])
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except BaseException:  # what Python does with an uncaught exception
                traceback.print_exc()
                code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    deadline = time.monotonic() + case["timeout"]
    status = None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
        elif time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = "timeout"
        else:
            time.sleep(0.005)
    after = snapshot(case["protect"])
    changed = sorted(p for p in before if after.get(p) != before[p])
    return {
        "name": case["name"],
        "exit": status,
        "seconds": round(time.perf_counter() - start, 3),
        "stdout": Path(out_path).read_text(errors="replace"),
        "stderr": Path(err_path).read_text(errors="replace"),
        "changed": changed,
        "new": sorted(set(after) - set(before)),
    }


def main(cases_file: str, results_file: str) -> None:
    preload()
    cases = json.loads(Path(cases_file).read_text())
    results = [run_case(case) for case in cases]
    Path(results_file).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:3])
