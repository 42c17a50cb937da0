"""Time the lab's core path (docs/lab.md) the way a class runs it: notebooks 00-04 at the `class` profile, one after
the other, from an empty outputs folder, and write what was measured to docs/lab_timings.json, from which
`python -m hslib.prose` writes the timing table of docs/lab.md.

    python benchmarks/lab_timings.py [--profile class] [--out docs/lab_timings.json]

Not one of `make bench`'s benchmarks (bench_*.py): it writes a committed file, on purpose only.

Per notebook: its elapsed time, the runs it trained (a run belongs to the notebook during which its result.json
was written) and their ids, so that the table can set them beside the same runs' training time in the committed
`course` results. The machine's load is sampled every 30 s: a timing taken on a busy machine says so.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hslib import store
from hslib.config import PROFILES
from hslib.reproduce import execute

ROOT = Path(__file__).resolve().parents[1]
CORE_PATH = ["00", "01", "02", "03", "04"]  # docs/lab.md: the notebooks of the two hours


def _sample_load(samples: list, stop: threading.Event):
    while not stop.wait(30):
        samples.append(round(os.getloadavg()[0], 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="class", choices=sorted(PROFILES))
    ap.add_argument("--out", default=str(ROOT / "docs" / "lab_timings.json"))
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    load, stop = [round(os.getloadavg()[0], 2)], threading.Event()
    threading.Thread(target=_sample_load, args=(load, stop), daemon=True).start()
    with tempfile.TemporaryDirectory() as outputs:
        start = time.time()
        timings = execute(args.profile, only=CORE_PATH, outputs=outputs, lanes=1)  # one after the other, as a class
        stop.set()
        finished = {}  # run id -> when its result.json was written
        for result in Path(store.folder("runs", outputs=outputs)).glob("*/result.json"):
            finished[result.parent.name] = result.stat().st_mtime
    rows, t = [], start
    for name, seconds in timings:
        runs = sorted(rid for rid, when in finished.items() if t <= when < t + seconds)
        rows.append({"notebook": name, "seconds": round(seconds, 1), "runs": runs})
        t += seconds
    record = {"profile": args.profile, "commit": commit, "date": datetime.date.today().isoformat(),
              "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, {platform.system()}",
              "command": f"python benchmarks/lab_timings.py --profile {args.profile}",
              "load_average": {"start": load[0], "max": max(load), "median": sorted(load)[len(load) // 2]},
              "notebooks": rows, "runs_unattributed": len(finished) - sum(len(r["runs"]) for r in rows)}
    store.write_json(Path(args.out), record)
    for r in rows:
        print(f"{r['notebook']:32s} {r['seconds']:8.1f} s  {len(r['runs']):3d} runs")
    print(f"core path: {sum(r['seconds'] for r in rows) / 60:.1f} min; load average {record['load_average']}; "
          f"written {args.out}")


if __name__ == "__main__":
    sys.exit(main())
