"""The numbered notebook series as data: which notebooks, with which extra parameters, in which order.
`hslib.reproduce` executes it (two independent lanes side by side, then the final notebooks); `hslib.book`
renders it in reading order."""

TRAINING_METHODS = ["dense", "gmp", "lth", "omp", "snip", "set"]  # notebook 03 runs once per method
LANES = [
    [("00_quickstart", {}), ("00_sparsity_primer", {}), ("01_el2n_scoring", {}), ("02_hard_sample_filtering", {}),
     *[("03_sparse_training", {"method": m}) for m in TRAINING_METHODS], ("04_hard_sample_results", {})],
    [("05_common_corruptions", {}), ("06_adversarial", {})],
]
# After the lanes, one at a time. 10 (beyond the paper) first: its Figure E3 times inference, and beside a lane's
# training the timings measured the load, not the networks (course, 0.7: dense 2.4k–3.4k images/s in the series
# against 10.7k alone). 07 and 08 read everything; 09 runs its exercise with the reference solution
# (hslib.solutions), since the student's cell is a stub that raises NotImplementedError.
FINAL = [("10_structured_sparsity", {}), ("07_layer_density", {}), ("08_claims", {}),
         ("09_exercise_your_own_method", {"solution": "reference"})]
SERIES = sorted(LANES[0] + LANES[1] + FINAL, key=lambda nb: nb[0])  # the reading order, and --lanes 1
# Notebooks beyond the paper: run only where the profile's "extension" flag asks for them (hslib.paper.extension)
EXTENSION_NOTEBOOKS = ("10_structured_sparsity",)


def label(name: str, extra: dict) -> str:
    """The executed copy's name: 03_sparse_training-set for notebook 03 with method='set'."""
    return name + "".join(f"-{v}" for v in extra.values())
