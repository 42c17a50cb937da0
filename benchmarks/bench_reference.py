"""Cost of the reproduction report: `hslib.reference.report` on a profile's committed tables, compared with a copy
of themselves (every run matched, every metric and layer density compared, tolerances, ledger rows, sidecars).

    python benchmarks/bench_reference.py [--profile course] [--repeats 3]

The report runs at the end of every `make reproduce`; it must stay a small part of the smoke series' 10 minutes.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from hslib import reference, store
from hslib.config import PROFILES

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="course", choices=sorted(PROFILES))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for side in (True, False):  # the committed reference, and the same tables as a reproduction
            shutil.copytree(store.folder("results", args.profile, ROOT / "outputs", reference=True),
                            store.folder("results", args.profile, tmp, reference=side))
            shutil.copytree(store.folder("figures", args.profile, ROOT / "outputs", reference=True),
                            store.folder("figures", args.profile, tmp, reference=side))
        seconds = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = reference.report(args.profile, tmp)
            seconds.append(time.perf_counter() - t0)
    print(f"{args.profile}: {sum(result['counts'].values())} runs, {len(result['ledger'])} ledger rows, "
          f"{len(result['figures'])} figures; report in {statistics.median(seconds):.2f} s (median of {args.repeats})")
    print(reference.summary_line(result))


if __name__ == "__main__":
    main()
