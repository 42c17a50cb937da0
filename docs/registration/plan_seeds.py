"""The course profile's power calculation, from its pilot (docs/paper_findings.md#course-registration).

    python docs/registration/plan_seeds.py docs/registration/course_pilot_runs.csv

The pilot trained every run the confirmatory family tests at seeds 100, 101 and 102 (never used by the deciding
run). For each confirmatory finding this prints the pilot's per-seed effect d_z (the ledger's own computation,
hslib.claims.ledger), the seeds 80% power needs at Holm's strictest level α/k, and the power the registered
seeds have for that effect, as the Markdown table the registration quotes.
"""
import sys

import pandas as pd

from hslib import claims
from hslib.config import profile
from hslib.findings import CONFIRMATORY
from hslib.power import power, seeds_needed, smallest_detectable

PROFILE = "course"


def main(path: str) -> str:
    runs = pd.read_csv(path, keep_default_na=False, na_values=[""])
    ledger = claims.ledger(runs, PROFILE)
    rows = ledger[ledger.family == "confirmatory"].set_index("key")
    k = len(CONFIRMATORY)
    alpha = claims.ALPHA / k
    n = len(profile(PROFILE)["confirmatory_seeds"])
    lines = [f"Pilot: seeds {sorted(runs.seed.unique().tolist())}; Holm's strictest level α/k = 0.05/{k} = {alpha:.4f}; "
             f"registered seeds n = {n} (smallest effect they detect with 80% power: |d_z| = "
             f"{smallest_detectable(n, alpha):.2f}).", "",
             "| finding | pilot mean A − B (pp) | pilot d_z | seeds for 80% power | power with n seeds |",
             "| --- | --- | --- | --- | --- |"]
    for f in CONFIRMATORY:
        r = rows.loc[f.key]
        need = seeds_needed(r.d_z, alpha)
        lines.append(f"| `{f.key}` | {100 * r['diff']:+.2f} | {r.d_z:+.2f} | {need if need else '> 200'} | "
                     f"{power(r.d_z, n, alpha):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1]))
