"""How fast the recorder's writer stores records: SQLite against PostgreSQL, and PostgreSQL's executemany against COPY.

    python bench/store_throughput.py [--interceptions 5000] [--postgres postgresql://postgres@127.0.0.1:5432/test]

The writer gets every record at once (7 per interception: start, five child
records, end) and the time is from the first put to the end of the flush, so
the figure is the writer's own ceiling, not the gateway's. The PostgreSQL leg
uses a new database, dropped afterwards. Prints one JSON line per leg.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from test_recorder_support import child_records, ended, make_interception  # noqa: E402

from harness.postgres_runs import new_database  # noqa: E402

from aibridge_plugins.recorder.writer import RecordWriter  # noqa: E402
from aibridge_plugins.storage import CHILD, END, START  # noqa: E402

UTC = dt.timezone.utc


def writer_leg(store: str, database, data_dir: Path, interceptions: int) -> dict:
    writer = RecordWriter(database, data_dir=data_dir)
    writer.start()
    start = dt.datetime(2025, 3, 1, tzinfo=UTC)
    records = []
    for n in range(interceptions):
        interception = make_interception(f"bench-{n}", started_at=start + dt.timedelta(milliseconds=n))
        records.append((START, interception))
        records += [(CHILD, record) for _, _, record in child_records(interception)]
        records.append((END, ended(interception)))
    began = time.perf_counter()
    for kind, record in records:
        writer.put(kind, record)
    writer.close()
    seconds = time.perf_counter() - began
    return {"leg": f"writer {store}", "records": len(records), "written": writer.written, "lost": writer.lost,
            "seconds": round(seconds, 3), "records_per_second": round(len(records) / seconds)}


def copy_against_executemany(url: str, rows: int) -> list[dict]:
    """Insert-if-absent of ``rows`` token records: executemany (pipelined) against COPY into a temporary table."""
    import psycopg

    values = [(f"rid-{n}", f"int-{n // 5}", "msg_1", 100, 20, 5, 7, "{}", "2025-03-01T12:00:01.000000+00:00")
              for n in range(rows)]
    columns = ("record_id, interception_id, msg_id, input_tokens, output_tokens, cache_read_input_tokens, "
               "cache_write_input_tokens, metadata, created_at")
    results = []
    with psycopg.connect(url, autocommit=True) as conn:
        for method in ("executemany", "copy"):
            conn.execute("TRUNCATE token_usages")
            began = time.perf_counter()
            for chunk in range(0, rows, 500):  # the writer's batch size
                batch = values[chunk:chunk + 500]
                with conn.transaction():
                    if method == "executemany":
                        conn.cursor().executemany(
                            f"INSERT INTO token_usages ({columns}) VALUES ({', '.join(['%s'] * 9)}) "
                            "ON CONFLICT (record_id) DO NOTHING", batch)
                    else:
                        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS batch AS SELECT {columns} FROM token_usages WITH NO DATA")
                        with conn.cursor().copy(f"COPY batch ({columns}) FROM STDIN") as copy:
                            for row in batch:
                                copy.write_row(row)
                        conn.execute(f"INSERT INTO token_usages ({columns}) SELECT {columns} FROM batch "
                                     "ON CONFLICT (record_id) DO NOTHING")
                        conn.execute("TRUNCATE batch")
            seconds = time.perf_counter() - began
            results.append({"leg": f"postgres {method}", "rows": rows, "seconds": round(seconds, 3),
                            "rows_per_second": round(rows / seconds)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interceptions", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a database to create the benchmark's own database from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(writer_leg("sqlite", Path(tmp) / "sqlite" / "aibridge.db", Path(tmp) / "sqlite",
                                    args.interceptions)), flush=True)
        with new_database(args.postgres) as url:
            print(json.dumps(writer_leg("postgres", url, Path(tmp) / "pg", args.interceptions)), flush=True)
            for result in copy_against_executemany(url, args.interceptions * 5):
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
