"""The robustness corpus: hostile and broken input through the real command line, one process each.

Every case is a `phenbench` command line run as its own process (forked by cli_batch.py after the
imports, so ~100 of them fit in the default suite). A refused case must exit with status 2 and
one `Error:` line that names the file, field or flag at fault; a valid neighbour must exit 0 and do
its job. No case may print a traceback, change a file of the shared world (stores, models,
manifests, data), change a file of its own folder it was not meant to, or leave a temporary file.
Add a case here for every new way in which bad input was found to slip through.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.robustness import cases_run, cases_tools
from tests.robustness.case import Case
from tests.robustness.world import build_world

CASES: list[Case] = cases_run.CASES + cases_tools.CASES
REPO = Path(__file__).resolve().parents[2]
# What click itself prints above its own usage errors ("Usage: ...", "Try 'phenbench ... -h'").
CLICK_USAGE = re.compile(r"^(Usage: |Try '|\s*$)")
TEMPORARY = re.compile(r"(\.tmp\b|\.tmp-|\.part$)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[dict[str, dict], Path, Path]:
    base = tmp_path_factory.mktemp("robustness")
    world = build_world(base / "world")
    (base / "logs").mkdir()
    jobs = []
    for case in CASES:
        folder = base / "cases" / case.name
        folder.mkdir(parents=True)
        for step in case.setup:
            step(folder, world)
        jobs.append({
            "name": case.name, "args": case.arguments(world), "cwd": str(folder), "timeout": case.timeout,
            "env": {"PHENBENCH_CACHE_DIR": str(base / "cache"), "OMP_NUM_THREADS": "1"},
            "protect": [str(world), str(folder)],
            "stdout": str(base / "logs" / f"{case.name}.out"), "stderr": str(base / "logs" / f"{case.name}.err"),
        })
    (base / "cases.json").write_text(json.dumps(jobs))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "tests.robustness.cli_batch", str(base / "cases.json"),
                           str(base / "results.json")], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    results = {r["name"]: r for r in json.loads((base / "results.json").read_text())}
    print(f"{len(results)} cases in {sum(r['seconds'] for r in results.values()):.1f} s of child time")
    return results, world, base / "cases"


def test_the_corpus_is_large_and_every_refusal_names_something() -> None:
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)
    assert all(c.says for c in CASES if c.exit == 2)
    assert sum(c.exit == 0 for c in CASES) >= 15  # the valid neighbours: refusals must not be blanket ones


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(corpus, case: Case) -> None:
    results, world, cases = corpus
    result, folder = results[case.name], cases / case.name
    output = f"$ phenbench {' '.join(case.arguments(world))}\n--- stdout\n{result['stdout']}--- stderr\n{result['stderr']}"
    assert result["exit"] == case.exit, output
    assert "Traceback" not in result["stdout"] + result["stderr"], output
    if case.exit == 2:
        lines = result["stderr"].rstrip("\n").splitlines()
        message = lines[-1] if lines else ""
        assert message.startswith("Error: "), output
        assert all(CLICK_USAGE.match(line) or line.startswith("warning:") for line in lines[:-1]), output
        for named in case.says:
            assert named in message, f"the error does not name {named!r}\n{output}"
    changed = [Path(p) for p in result["changed"]]
    assert not [p for p in changed if world in p.parents], f"changed the shared world: {changed}\n{output}"
    allowed = {folder / name for name in case.may_change}
    assert not [p for p in changed if p not in allowed], f"changed pre-existing files: {changed}\n{output}"
    assert not [p for p in result["new"] if TEMPORARY.search(Path(p).name)], f"left temporary files\n{output}"
    if case.check is not None:
        case.check(folder, world)
