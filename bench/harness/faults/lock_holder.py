"""Another process holding ``BEGIN EXCLUSIVE`` on a SQLite database for a while.

Run as ``python -m harness.faults.lock_holder <database> <seconds>``. Prints
``locked <unix time>`` once it holds the lock and ``released <unix time>`` after it.
"""

from __future__ import annotations

import sqlite3
import sys
import time


def main() -> None:
    path, seconds = sys.argv[1], float(sys.argv[2])
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print(f"locked {time.time():.3f}", flush=True)
    time.sleep(seconds)
    db.execute("COMMIT")
    print(f"released {time.time():.3f}", flush=True)
    db.close()


if __name__ == "__main__":
    main()
