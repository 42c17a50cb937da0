"""Grade a solution of notebook 09's exercise: `python -m hslib.grade student.py [--profile smoke] [--report out.md]`.

**What student.py must define:** `class MagnitudeERK(hslib.sparse.Method)`, the class of notebook 09's exercise
cell with the imports it uses (copy the cell into a file below `import torch`, `from hslib.sparse import Method,
layer_counts` and `from hslib.sparse.masks import topk_mask`). Other definitions in the file are ignored.

Three checks, reported as markdown (to stdout, and to `--report FILE`):

1. **invariants**: `hslib.sparse.check_method`, the checks every method of the registry passes (exact counts,
   pruned weights zero after init and after every step, resume equality); a hook that raises (the stub's
   `NotImplementedError`) is named with its line.
2. **keeps the largest initial |w|**: the exercise's rule, on check_method's tiny ResNet18: in every layer, no
   pruned weight had a larger |w| at initialisation than a kept one (ties either way).
3. **outcome**: the class trained beside the reference (`hslib.solutions.magnitude_erk`) on the running profile,
   same configs and seeds (default 0, 1, 2): the mean test accuracy within 3·s·√(2/n) of the reference's, s the
   seed spread of the reference's runs (`hslib.exercise` says why). Trained only when 1 and 2 passed; runs go to <outputs>/runs/exercise/ and are reused.

Exit status: 0 every check passed, 1 a check failed, 2 the file could not be graded (missing, does not import,
no class MagnitudeERK, a MagnitudeERK that is not a subclass of hslib.sparse.Method, bad arguments).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import exercise, store
from . import sweep as hsweep
from .config import PROFILES
from .sparse import Method, MethodCheckError, check_method, register
from .sparse.check import batch_fn, make
from .sparse.methods import Context
from .vocabulary import METHODS

CLASS = "MagnitudeERK"  # what student.py must define
INVARIANTS, RULE, OUTCOME = "invariants", "keeps the largest initial |w|", "outcome"
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


class GradeError(ValueError):
    """The file cannot be graded at all (exit status 2)."""


# ------------------------------------------------------------------------------------------ the class
def load_student(path) -> type:
    """The MagnitudeERK class that `path` defines (one GradeError naming what is wrong otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise GradeError(f"student={str(path)!r}: no such file; allowed values: a Python file that defines "
                         f"class {CLASS}(hslib.sparse.Method)")
    module_name = "student_solution"  # not under hslib: its source is hashed into its runs' ids (code_hash)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # inspect.getsource finds the class's source through it
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[module_name]
        raise GradeError(f"{path} raised {type(e).__name__} while being imported: {e}") from e
    cls = getattr(module, CLASS, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module_name)
        raise GradeError(f"{path} defines no class {CLASS} (classes defined there: {found or 'none'}); it must "
                         f"define class {CLASS}(hslib.sparse.Method)")
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        bases = [b.__name__ for b in getattr(cls, "__bases__", ())] or [type(cls).__name__]
        raise GradeError(f"{path}: {CLASS} derives from {', '.join(bases)}, not from hslib.sparse.Method; "
                         f"it must be class {CLASS}(hslib.sparse.Method)")
    return cls


def reference() -> type:
    from .solutions.magnitude_erk import MagnitudeERK

    return MagnitudeERK


def choose(solution: str, exercise_cell: type) -> type:
    """Notebook 09's `solution` parameter: '' the class of its exercise cell, 'reference' the reference solution,
    else the path of a student file."""
    check_solution(solution)
    if solution == "":
        return exercise_cell
    return reference() if solution == "reference" else load_student(solution)


def check_solution(solution) -> str:
    """Notebook 09's `solution` parameter, checked right after its parameters cell."""
    if not isinstance(solution, str) or (solution not in ("", "reference") and not Path(solution).is_file()):
        raise ValueError(f"solution={solution!r} is not allowed; allowed values: '' (the exercise cell's class), "
                         f"'reference' (hslib.solutions) or the path of an existing student file")
    return solution


@contextlib.contextmanager
def _registry_kept():
    """Whatever grading registers is gone afterwards (a grader in a notebook or a test leaves METHODS as it was)."""
    before = dict(METHODS)
    try:
        yield
    finally:
        for name in [n for n in METHODS if n not in before]:
            METHODS.remove(name)
        for name, info in before.items():
            METHODS.add(name, info, replace=True)


# ------------------------------------------------------------------------------------------ the checks
def _raised_where(e: BaseException, cls: type) -> str:
    """'in init (student.py line 12)': the deepest frame of the error inside the class's own file, if any."""
    import inspect

    try:
        own = Path(inspect.getfile(cls)).resolve()
    except (TypeError, OSError):
        return ""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename).resolve() == own]
    return f" in {frames[-1].name} ({own.name} line {frames[-1].lineno})" if frames else ""


def invariants(cls) -> tuple[str, str]:
    """(status, detail) of check_method."""
    try:
        passed = check_method(cls)
    except MethodCheckError as e:  # the invariant broken, with the layer and the numbers
        return FAILED, str(e)
    except Exception as e:  # a hook that raises, the stub's NotImplementedError first of all
        return FAILED, f"{type(e).__name__}{_raised_where(e, cls)}: {e}"
    return PASSED, "kept: " + "; ".join(passed)


def rule_problem(cls, density: float = 0.2) -> str | None:
    """None if `cls.init` keeps, in every layer, weights with |w| at initialisation no smaller than any it prunes;
    else the first layer that breaks it, with the numbers. Runs on check_method's tiny ResNet18."""
    import torch

    rng = torch.random.get_rng_state()  # make() seeds the global generator: the caller's state comes back
    try:
        with _registry_kept():
            register(cls)
            _, _, m = make(cls.name, density)
            initial = [p.detach().abs().clone() for p in m.masks.params]
            m.init(Context(batch=batch_fn))
    finally:
        torch.random.set_rng_state(rng)
    for name, w0, keep in zip(m.masks.names, initial, m.masks.values):
        keep = keep.bool()
        if keep.all() or not keep.any():
            continue
        smallest_kept, largest_pruned = float(w0[keep].min()), float(w0[~keep].max())
        if smallest_kept < largest_pruned:
            below = int((w0[keep] < largest_pruned).sum())
            return (f"{name} keeps {below} of its {int(keep.sum())} weights with |w| below the largest one it prunes "
                    f"(smallest kept |w| {smallest_kept:.3g} < largest pruned {largest_pruned:.3g}); keep the "
                    f"{int(keep.sum())} largest |w| of the initial weights")
    return None


def rule(cls) -> tuple[str, str]:
    try:
        problem = rule_problem(cls)
    except Exception as e:
        return FAILED, f"{type(e).__name__}{_raised_where(e, cls)}: {e}"
    if problem:
        return FAILED, problem
    return PASSED, "in every layer the kept weights were the largest |w| at initialisation"


def _train(cls, profile, seeds, data_root, root, run) -> pd.DataFrame:
    """cls's exercise runs (the registry restored afterwards); a failed run is an error naming its folder."""
    with _registry_kept():
        register(cls)
        cfgs = exercise.configs(profile, cls.name, seeds, data_root, **run)
        print(f"[grade] {cls.__module__}.{cls.__name__}: {len(cfgs)} runs ({exercise.where(profile)}); finished "
              f"ones are read back from {root}", flush=True)
        runs = hsweep.run(cfgs, executor="inline", root=root, tables=False, progress="none")
    if runs.attrs["failed"]:
        raise RuntimeError(f"{len(runs.attrs['failed'])} run(s) of {cls.__name__} failed: see error.txt in their "
                           f"folders under {root}")
    return runs


# ------------------------------------------------------------------------------------------ the report
@dataclass
class Report:
    student: str
    profile: str
    checks: list = field(default_factory=list)  # [(check, status, detail)]
    numbers: dict = field(default_factory=dict)  # the outcome's numbers

    @property
    def passed(self) -> bool:
        return all(status == PASSED for _, status, _ in self.checks)

    def status(self, check: str) -> str:
        return next(s for c, s, _ in self.checks if c == check)

    def markdown(self) -> str:
        mark = {PASSED: "✅ passed", FAILED: "❌ failed", NOT_RUN: "– not run"}
        lines = [f"# Exercise 09 · {self.student}", "",
                 f"**{'All checks passed.' if self.passed else 'Not yet: see the first failed check.'}** "
                 f"Profile `{self.profile}`.", "", "| check | result | details |", "| --- | --- | --- |"]
        lines += [f"| {c} | {mark[s]} | {d.replace('|', '/')} |" for c, s, d in self.checks]
        n = self.numbers
        if n:
            lines += ["", f"Outcome ({n['where']}): mean test accuracy over seeds {n['seeds']}: yours "
                          f"{n['a_mean']:.1f}%, the reference's {n['b_mean']:.1f}%, difference {n['diff']:+.1f} pp "
                          f"(per seed {n['min']:+.1f} to {n['max']:+.1f}); allowed ±{n['tolerance']:.1f} pp: "
                          f"{n['how']}."]
        return "\n".join(lines) + "\n"


def grade(student, profile: str = "smoke", seeds=None, data_root: str = "", outputs=None, run=None,
          tolerance_pp: float | None = None) -> Report:
    """Grade `student` (a path, or a Method subclass): the three checks of the module docstring. `run` overrides
    the profile's run settings (tests); `tolerance_pp` replaces the derived tolerance."""
    if profile not in PROFILES:
        raise GradeError(f"profile={profile!r} is not known; allowed values: {sorted(PROFILES)}")
    seeds = exercise.check_seeds(exercise.DEFAULT_SEEDS if seeds is None else seeds)
    run = dict(run or {})
    try:  # bad run settings: one error, before any work
        exercise.configs(profile, "random_erk", seeds, data_root, **run)
    except TypeError as e:
        raise GradeError(f"run={run!r} is not allowed: {e}; allowed values: fields of hslib.config.RunConfig") from e
    cls = student if isinstance(student, type) else load_student(student)
    report = Report(str(student.__name__ if isinstance(student, type) else student), profile)
    report.checks.append((INVARIANTS, *invariants(cls)))
    report.checks.append((RULE, *rule(cls)))
    if not report.passed:
        report.checks.append((OUTCOME, NOT_RUN, "trained only once the checks above pass"))
        return report
    root = store.exercise_root(outputs)
    ours, theirs = (_train(c, profile, seeds, data_root, root, run) for c in (cls, reference()))
    runs = pd.concat([ours.assign(method="student"), theirs.assign(method="reference")])
    if tolerance_pp is None:
        tolerance_pp, how = exercise.tolerance(len(seeds), theirs)
    else:
        how = "a tolerance given to the grader"
    result = exercise.outcome(runs, "student", "reference", tolerance_pp)
    report.numbers = {**result, "how": how, "seeds": seeds, "where": exercise.where(profile)}
    detail = (f"{result['diff']:+.1f} pp from the reference (allowed ±{tolerance_pp:.1f} pp)" if result["passed"] else
              f"mean test accuracy {result['a_mean']:.1f}% vs the reference's {result['b_mean']:.1f}%: "
              f"{result['diff']:+.1f} pp, outside ±{tolerance_pp:.1f} pp")
    report.checks.append((OUTCOME, PASSED if result["passed"] else FAILED, detail))
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hslib.grade", description=__doc__.splitlines()[0])
    ap.add_argument("student", help=f"a Python file defining class {CLASS}(hslib.sparse.Method)")
    ap.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    ap.add_argument("--seeds", type=int, nargs="+", default=exercise.DEFAULT_SEEDS)
    ap.add_argument("--data", default="", help="data root (default: $HSLIB_DATA or ./data)")
    ap.add_argument("--outputs", default=None, help="outputs root (default: $HSLIB_OUTPUTS, else <project>/outputs)")
    ap.add_argument("--report", default=None, help="also write the markdown report to this file")
    args = ap.parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # training's progress lines: stdout carries only the report
            report = grade(args.student, args.profile, args.seeds, args.data, args.outputs)
    except (GradeError, ValueError) as e:
        print(f"[grade] cannot grade: {e}", file=sys.stderr)
        return 2
    text = report.markdown()
    print(text)
    if args.report:
        store.write_text(args.report, text)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
