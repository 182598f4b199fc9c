"""A separate ingesting process for the concurrency and kill -9 tests.

usage: python ingest_worker.py STORE_URL DIR [--start-at EPOCH] [--home DIR]
Ingests every artifact under DIR (no reproduction) and prints a JSON line of
outcome counts. --start-at lines several workers up on one instant.
"""
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]

from triage.daemon import find_artifacts  # noqa: E402
from triage.errors import ArtifactError  # noqa: E402
from triage.ingest import Ingester  # noqa: E402
from triage.store import open_store  # noqa: E402


def main() -> int:
    url, directory = sys.argv[1], Path(sys.argv[2])
    if "--start-at" in sys.argv:
        time.sleep(max(0.0, float(sys.argv[sys.argv.index("--start-at") + 1]) - time.time()))
    outcomes = Counter()
    home = Path(sys.argv[sys.argv.index("--home") + 1]) if "--home" in sys.argv else None
    with open_store(url, retry_seconds=60, home=home) as store:
        ingester = Ingester(store)
        for path in find_artifacts([directory]):
            try:
                outcomes[ingester.ingest(path).outcome] += 1
            except ArtifactError:
                outcomes["vanished"] += 1  # another worker moved it first
    print(json.dumps(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
