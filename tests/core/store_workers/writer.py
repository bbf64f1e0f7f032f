"""A writer process for the store tests: `python writer.py STORE PREFIX COUNT [IMAGE_SIZE] [GO_FILE]`.

Prints `ready` once imported, waits for GO_FILE to exist (if given, so that several writers start
together), then writes runs PREFIX-000, PREFIX-001, ... and prints `wrote <id>` after each write
has returned. It never imports torch (the store and metric results are plain data), so it starts quickly.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

from records import record_for  # noqa: E402

from phenbench.core.store import ResultsStore  # noqa: E402


def main() -> None:
    store_path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    image_size = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    go_file = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    store = ResultsStore(store_path)
    print("ready", flush=True)
    while go_file is not None and not go_file.exists():
        time.sleep(0.005)
    for index in range(count):
        run_id = f"{prefix}-{index:03d}"
        store.write(record_for(run_id, image_size=image_size, n_samples=4))
        print(f"wrote {run_id}", flush=True)


if __name__ == "__main__":
    main()
