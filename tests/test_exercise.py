"""The self-grading exercise: check_method and register (hslib.sparse.check), and notebook 09 run with a solution."""
import json
import time
from pathlib import Path

import pytest
import torch

from hslib.config import RunConfig
from hslib.models import build_model
from hslib.sparse import (INVARIANTS, Method, MethodCheckError, check_method, implementation, layer_counts, maskable,
                          register)
from hslib.sparse.masks import random_mask
from hslib.sparse.methods import SET, FixedRandom, RandomERK
from hslib.vocabulary import METHODS

ROOT = Path(__file__).resolve().parents[1]
NAMES = [name for name, _ in INVARIANTS]


def test_invariants_have_stable_short_names_and_a_line_each():
    assert NAMES == ["exact counts after init", "pruned weights zero after init", "masked weights stay zero",
                     "counts hold through updates", "resume equality"]
    assert all(isinstance(d, str) and d and "\n" not in d for _, d in INVARIANTS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_registered_method_passes_the_check(name):
    before = dict(METHODS)
    cls = implementation(name)
    passed = check_method(cls)
    exempt = [] if cls.keeps_density else ["counts hold through updates"]  # gmp prunes as it trains
    assert passed == [n for n in NAMES if n not in exempt] + (["pattern holds"] if cls.pattern else [])
    assert dict(METHODS) == before


# ------------------------------------------------------------------------------------ broken methods
class Look:
    label, colour = "Broken", "#000000"


class WrongCounts(Look, FixedRandom):
    """Says ERK, builds uniform counts."""
    name, distributions = "wrong_counts", ("erk",)

    def init(self, ctx):
        counts = layer_counts(self.model, "uniform", self.cfg.density)
        gen = self.generator(0, "mask")
        self._set_masks([random_mask(p.shape, k, gen) for p, k in zip(self.masks.params, counts)])
        self._after_mask_change(0)


class ForgetsToZero(Look, FixedRandom):
    """Sets the masks but never multiplies the weights by them."""
    name, distributions = "forgets_to_zero", ("erk",)

    def init(self, ctx):
        gen = self.generator(0, "mask")
        counts = layer_counts(self.model, self.cfg.distribution, self.cfg.density)
        self._set_masks([random_mask(p.shape, k, gen) for p, k in zip(self.masks.params, counts)])


class Leaks(Look, RandomERK):
    """after_step does not apply the mask: momentum and weight decay revive pruned weights."""
    name = "leaks"

    def after_step(self, optimizer):
        pass


class LeakyRewiring(Look, SET):
    """Leaks between updates, although every update (the last at the final step) zeroes the pruned weights."""
    name = "leaky_rewiring"

    def after_step(self, optimizer):
        pass


class IgnoresZeroMomentum(Look, RandomERK):
    """Applies the mask but leaves the momentum of pruned weights alone, even with zero_momentum=True."""
    name = "ignores_zero_momentum"

    def after_step(self, optimizer):
        self.masks.apply()


class KeepsRemovedWeights(Look, SET):
    """Rewires the mask without zeroing the weights it removes."""
    name = "keeps_removed_weights"

    def _after_mask_change(self, step, optimizer=None):
        if step == 0:
            super()._after_mask_change(step, optimizer)


class GrowsOneMore(Look, SET):
    """Every update activates one more weight in the first layer that has room."""
    name = "grows_one_more"

    @torch.no_grad()
    def update(self, step, optimizer):
        super().update(step, optimizer)
        for i in range(len(self.masks)):
            off = (~self.masks.bool(i)).flatten().nonzero()
            if len(off):
                self.masks.values[i].view(-1)[off[0]] = 1
                return


class UnseededRegrowth(Look, SET):
    """Regrows with the global RNG: a resumed run draws other positions."""
    name = "unseeded_regrowth"

    def regrowth(self, i, inactive, k, gen):
        return inactive[torch.randperm(len(inactive))[:k]]


class ForgetsItsState(Look, SET):
    """Keeps a schedule made in init out of state_dict: a resumed instance lacks it."""
    name = "forgets_its_state"

    def init(self, ctx):
        super().init(ctx)
        self.zetas = {s: self.zeta(s) for s in range(self.total_steps + 1)}

    def update(self, step, optimizer):
        assert self.zetas[step] > 0
        super().update(step, optimizer)


@pytest.mark.parametrize("cls,invariant,needles", [
    (WrongCounts, "exact counts after init", ["active weights, expected", "(erk at density 0.2)"]),
    (ForgetsToZero, "pruned weights zero after init", ["pruned weights that are not zero", "init must zero them"]),
    (Leaks, "masked weights stay zero", ["after step 1,", "after_step must apply the mask"]),
    (LeakyRewiring, "masked weights stay zero", ["after step 1,"]),
    (IgnoresZeroMomentum, "masked weights stay zero", ["after step 1,", "whose momentum is not zero"]),
    (KeepsRemovedWeights, "masked weights stay zero", ["after the mask update at step 5", "update must zero"]),
    (GrowsOneMore, "counts hold through updates", ["the mask update at step 5 changed"]),
    (UnseededRegrowth, "resume equality", ["resumed at step 6, the mask of", "never the global RNG"]),
    (ForgetsItsState, "resume equality", ["raised AttributeError", "zetas"]),
])
def test_a_broken_method_fails_with_the_invariant_it_breaks(cls, invariant, needles):
    before, rng = dict(METHODS), torch.random.get_rng_state()
    with pytest.raises(MethodCheckError) as e:
        check_method(cls)
    message = str(e.value)
    assert isinstance(e.value, AssertionError) and e.value.invariant == invariant
    assert message.startswith(f"invariant '{invariant}' violated: ")
    assert all(n in message for n in needles), message
    assert e.value.passed == NAMES[:NAMES.index(invariant)]  # every earlier invariant held
    assert dict(METHODS) == before and torch.equal(torch.random.get_rng_state(), rng)  # nothing left behind


def test_wrong_counts_names_the_first_wrong_layer_and_both_numbers():
    with pytest.raises(MethodCheckError) as e:
        check_method(WrongCounts)
    model = build_model("resnet18", 10, width=0.0625)
    uniform, erk = layer_counts(model, "uniform", 0.2), layer_counts(model, "erk", 0.2)
    name, u, k = next((n, u, k) for (n, _), u, k in zip(maskable(model), uniform, erk) if u != k)
    assert str(e.value) == f"invariant 'exact counts after init' violated: {name} has {u} active weights, " \
                           f"expected {k} (erk at density 0.2)"


# ------------------------------------------------------------------------------------ register
@pytest.fixture
def registry():
    """Whatever a test registers is gone afterwards."""
    before = dict(METHODS)
    yield METHODS
    for name in [n for n in METHODS if n not in before]:
        METHODS.remove(name)
    for name, info in before.items():  # an entry replaced by a test gets its own back
        METHODS.add(name, info, replace=True)


class Good(Method):
    name, label, colour, distributions = "good_method", "Good", "#393b79", ("erk",)


class NoName(Method):
    label, colour, distributions = "No name", "#393b79", ("erk",)


class TakesSET(Method):
    name, label, colour, distributions = "set", "Mine", "#393b79", ("erk",)


class Spaced(Method):
    name, label, colour, distributions = "My Method", "Mine", "#393b79", ("erk",)


class NoLabel(RandomERK):
    name, colour = "no_label", "#393b79"


class NoColour(Method):
    name, label, distributions = "no_colour", "No colour", ("erk",)


class BadColour(Method):
    name, label, colour, distributions = "bad_colour", "Bad colour", "not-a-colour", ("erk",)


class NoDistribution(Method):
    name, label, colour = "no_distribution", "No distribution", "#393b79"


@pytest.mark.parametrize("cls,needle", [
    ("magnitude_erk", "cls='magnitude_erk' is not allowed: not a subclass of hslib.sparse.Method"),
    (dict, "cls=<class 'dict'> is not allowed: not a subclass"),
    (object.__new__(Good), "cls=<test_exercise.Good object at "),
    (NoName, "cls.name='dense' is not allowed: NoName inherits it from Method"),
    (TakesSET, "cls.name='set' is not allowed: it is the built-in method SET"),
    (Spaced, "cls.name='My Method' is not allowed"),
    # built-in classes carry no label or colour (their vocabulary entry does): both come from Method's None
    (NoLabel, "cls.label=None is not allowed: NoLabel inherits it from Method"),
    (NoColour, "cls.colour=None is not allowed: NoColour inherits it from Method"),
    (BadColour, "cls.colour='not-a-colour' is not allowed"),
    (NoDistribution, "cls.distributions=('none',) is not allowed"),
])
def test_register_refuses_bad_classes_with_one_clear_error(registry, cls, needle):
    before = dict(registry)
    with pytest.raises(ValueError) as e:
        register(cls)
    assert str(e.value).startswith(needle) and "; allowed values: " in str(e.value), str(e.value)
    assert dict(registry) == before


def test_register_adds_a_method_that_configs_accept_and_allows_registering_again(registry):
    with pytest.raises(ValueError, match="method='good_method' is not allowed"):
        RunConfig(dataset="digits", method="good_method", density=0.2)
    assert register(Good) is Good and registry["good_method"].implementation is Good
    assert implementation("good_method") is Good
    info = registry["good_method"]
    assert (info.label, info.colour, info.distributions, info.needs_parent, info.sparse) == \
        ("Good", "#393b79", ("erk",), False, True)
    assert RunConfig(dataset="digits", method="good_method", density=0.2).distribution == "erk"

    class Good2(Method):  # the notebook cell run again: a new class object under the same name
        name, label, colour, distributions = "good_method", "Good", "#393b79", ("erk",)

    assert register(Good2) is Good2 and registry["good_method"].implementation is Good2
    builtin = registry["set"]
    assert register(SET) is SET and registry["set"] == builtin  # a built-in class itself: nothing changes
    assert implementation("set") is SET


# ------------------------------------------------------------------------------------ the exercise and its grader
NOTEBOOK = ROOT / "notebooks" / "09_exercise_your_own_method.ipynb"
REFERENCE_FILE = ROOT / "hslib" / "solutions" / "magnitude_erk.py"
REFERENCE = REFERENCE_FILE.read_text()
HEADER = "import torch\nfrom hslib.sparse import Method, layer_counts\nfrom hslib.sparse.masks import topk_mask\n\n\n"
# Tiny runs for the grader's pipeline (the profile's own runs take minutes): smoke's ResNet18 at 16×16 on 20% of the
# digits, 2 epochs of 64.
TINY = dict(epochs=2, batch_size=64, data_ratio=0.2, image_size=16)
SEEDS = [0, 1]


def _variant(old: str, new: str, source: str = REFERENCE) -> str:
    """The reference with one typical mistake (the replaced text must be there: a test cannot drift silently)."""
    assert source.count(old) == 1, old
    return source.replace(old, new)


def _cells(tag=None):
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if tag is None or tag in c["metadata"].get("tags", [])]


STUB = HEADER + "".join(_cells("exercise")[0]["source"])
# The mistakes students make, each a one-place change of the reference, with the check that must catch it.
WRONG_DENSITY = _variant("layer_counts(self.model, self.cfg.distribution, self.cfg.density)",
                         'layer_counts(self.model, "uniform", self.cfg.density)')  # the run's density in every layer
KEEPS_SMALLEST = _variant("topk_mask(w.abs(), k)", "topk_mask(-w.abs(), k)")
RANDOM_NOT_MAGNITUDE = _variant("topk_mask(w.abs(), k)", 'random_mask(w.shape, k, self.generator(0, "mask"))',
                                _variant("import topk_mask", "import random_mask, topk_mask"))
FORGETS_THE_MASK = _variant("        self.masks.apply()\n        if self.cfg.zero_momentum:\n"
                            "            self.masks.apply_to_momentum(optimizer)\n",
                            "        pass  # the mask was applied in init: enough, surely\n")


def _file(tmp_path, source, name="student.py"):
    path = tmp_path / name
    path.write_text(source)
    return path


def test_the_stored_notebook_is_clean_parametrised_and_ships_a_stub():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"] == {"name": "hslib", "display_name": "Python (hslib)", "language": "python"}
    assert all(not c["outputs"] and c["execution_count"] is None for c in _cells())
    params = "".join(_cells("parameters")[0]["source"])
    assert len(_cells("parameters")) == 1 and 'solution = ""' in params and "seeds = [0, 1, 2]" in params
    assert len(_cells("exercise")) == 1 and STUB.count("raise NotImplementedError") == 2
    code = "\n".join("".join(c["source"]) for c in _cells())
    body = {line.strip() for line in REFERENCE.splitlines() if line.startswith(" " * 8)}
    assert not body & {line.strip() for line in code.splitlines()}  # no line of the solution in it
    assert code.count("getsource(") == 1 and "getsource(FixedRandom)" in code  # the reference's is never printed
    from hslib import reproduce

    assert reproduce.FINAL[-1] == ("09_exercise_your_own_method", {"solution": "reference"})


def test_the_readme_states_the_length_of_the_students_code():
    """The hooks' bodies of the reference are what a student writes; the README's count is checked against them."""
    import re

    written = [line for line in REFERENCE.split("def init(self, ctx):")[1].splitlines()
               if line.startswith(" " * 8) and not line.strip().startswith("#")]
    assert len(written) == 7
    assert re.search(r"about 7 lines", (ROOT / "README.md").read_text())


@pytest.mark.parametrize("content,needle", [
    (None, "student='{path}': no such file; allowed values: a Python file that defines class MagnitudeERK"),
    ("import torch\n\n\nclass Mine:\n    pass\n", "{path} defines no class MagnitudeERK (classes defined there: "
                                                  "['Mine']); it must define class MagnitudeERK(hslib.sparse.Method)"),
    ("class MagnitudeERK:\n    pass\n", "{path}: MagnitudeERK derives from object, not from hslib.sparse.Method"),
    ("from hslib.sparse.methods import RandomERK as Method\nimport nope\n",
     "{path} raised ModuleNotFoundError while being imported: No module named 'nope'"),
])
def test_a_file_that_cannot_be_graded_is_one_clear_error_and_exit_status_2(tmp_path, capsys, content, needle):
    from hslib import grade

    path = tmp_path / "student.py"
    if content is not None:
        path.write_text(content)
    with pytest.raises(grade.GradeError) as e:
        grade.grade(path)
    assert str(e.value).startswith(needle.format(path=path)), str(e.value)
    assert grade.main([str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"[grade] cannot grade: {needle.format(path=path)}")


def test_bad_grader_arguments_are_refused_before_any_work(tmp_path):
    from hslib import grade

    path = _file(tmp_path, REFERENCE)
    with pytest.raises(ValueError, match=r"profile='tiny' is not known; allowed values: \["):
        grade.grade(path, profile="tiny")
    with pytest.raises(ValueError, match=r"seeds=\[0\] is not allowed; allowed values: a list of at least 2"):
        grade.grade(path, seeds=[0])
    with pytest.raises(ValueError, match=r"run=\{'epoch': 2\} is not allowed: .*fields of hslib.config.RunConfig"):
        grade.grade(path, run={"epoch": 2})
    assert not (tmp_path / "outputs").exists()


def test_the_stub_fails_the_invariants_naming_the_hook_to_write(tmp_path, capsys):
    from hslib import grade

    path = _file(tmp_path, STUB)
    report = grade.grade(path, outputs=tmp_path / "outputs")
    line = STUB.splitlines().index(next(s for s in STUB.splitlines() if "MagnitudeERK.init is yours" in s)) + 1
    assert report.checks[0] == (grade.INVARIANTS, grade.FAILED, f"NotImplementedError in init (student.py line {line}): "
                                "MagnitudeERK.init is yours to write: steps 1-3 in its comments")
    assert report.status(grade.OUTCOME) == grade.NOT_RUN and not report.passed
    assert not (tmp_path / "outputs").exists()  # nothing trained
    assert grade.main([str(path), "--outputs", str(tmp_path / "outputs"), "--report", str(tmp_path / "r.md")]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"# Exercise 09 · {path}\n") and "| invariants | ❌ failed | NotImplementedError in init" in out
    assert (tmp_path / "r.md").read_text() == out[:-1]  # print adds one newline


@pytest.mark.parametrize("source,failed,needle", [
    (WRONG_DENSITY, "invariants", "invariant 'exact counts after init' violated: "),
    (FORGETS_THE_MASK, "invariants", "invariant 'masked weights stay zero' violated: after step 1,"),
    (KEEPS_SMALLEST, "keeps the largest initial |w|", "with |w| below the largest one it prunes"),
    (RANDOM_NOT_MAGNITUDE, "keeps the largest initial |w|", "with |w| below the largest one it prunes"),
], ids=["wrong density", "forgets the mask after a step", "keeps the smallest |w|", "random, not magnitude"])
def test_a_typical_wrong_solution_fails_on_the_check_that_names_its_mistake(tmp_path, source, failed, needle):
    from hslib import grade

    before, rng = dict(METHODS), torch.random.get_rng_state()
    report = grade.grade(_file(tmp_path, source), outputs=tmp_path / "outputs")
    statuses = {c: s for c, s, _ in report.checks}
    detail = next(d for c, _, d in report.checks if c == failed)
    assert statuses[failed] == grade.FAILED and needle in detail, report.markdown()
    if failed == grade.RULE:
        assert statuses[grade.INVARIANTS] == grade.PASSED  # the registry's invariants cannot see this mistake
    assert statuses[grade.OUTCOME] == grade.NOT_RUN and not (tmp_path / "outputs").exists()
    assert dict(METHODS) == before and torch.equal(torch.random.get_rng_state(), rng)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The reference graded as a student's file, at tiny settings (its runs and the imported reference's)."""
    from hslib import grade

    folder = tmp_path_factory.mktemp("grading")
    return grade.grade(_file(folder, REFERENCE, "reference.py"), seeds=SEEDS, outputs=folder / "outputs", run=TINY)


def test_the_reference_passes_every_check_with_the_reference_runs_bit_for_bit(graded):
    """Same mask, same seeds: the same runs bit for bit, so the difference is exactly 0 whatever the runs learn
    (at TINY they learn little: the reference's test accuracy over seeds 0-4 was 8.1, 8.4, 18.7, 8.9, 7.5%, 2 threads)."""
    from hslib import grade

    assert [(c, s) for c, s, _ in graded.checks] == [(c, grade.PASSED) for c in (grade.INVARIANTS, grade.RULE,
                                                                                 grade.OUTCOME)]
    n = graded.numbers
    assert n["n"] == 2 and n["diff"] == 0.0 and n["min"] == n["max"] == 0.0 and n["a_mean"] == n["b_mean"]
    assert "the sd of the reference's 2 runs in this grading" in n["how"]
    assert graded.passed and "**All checks passed.**" in graded.markdown()


def test_the_outcome_check_fails_outside_the_tolerance_and_passes_inside():
    from hslib import exercise

    runs = _runs({"student": [0.10, 0.10, 0.10], "reference": [0.60, 0.70, 0.80]})
    far = exercise.outcome(runs, "student", "reference", tolerance_pp=24.5)
    assert not far["passed"] and round(far["diff"], 6) == -60 and far["tolerance"] == 24.5
    near = _runs({"student": [0.55, 0.72, 0.80], "reference": [0.60, 0.70, 0.80]})
    assert exercise.outcome(near, "student", "reference", tolerance_pp=1.5)["passed"]  # mean -1 pp: inside


# ------------------------------------------------------------------------------------ the comparison's text
def _runs(values: dict):
    import pandas as pd

    return pd.DataFrame([{"method": m, "seed": s, "test_acc": v} for m, vs in values.items()
                         for s, v in enumerate(vs)])


def test_the_discussion_is_computed_from_the_runs_and_follows_a_planted_effect():
    from hslib import exercise

    behind = _runs({"magnitude_erk": [0.50, 0.52, 0.55], "random_erk": [0.80, 0.81, 0.83], "set": [0.51, 0.50, 0.57]})
    text = exercise.discussion(behind, "magnitude_erk", ["random_erk", "set"], "smoke")
    assert "| Random-ERK | 81.3 | 1.5 | 3 |" in text
    assert "- magnitude_erk − Random-ERK: -29.0 pp (per seed -30.0 pp to -28.0 pp; 95% CI -31.5 pp to -26.5 pp, " \
           "3 seeds): the interval lies below 0, so magnitude_erk is behind Random-ERK here." in text
    assert "keeping the largest initial |w| did worse than a random choice" in text
    same = _runs({"magnitude_erk": [0.80, 0.83, 0.79], "random_erk": [0.81, 0.81, 0.81]})
    assert "these seeds find no difference" in exercise.discussion(same, "magnitude_erk", ["random_erk"], "smoke")
    ahead = _runs({"magnitude_erk": [0.90, 0.91, 0.93], "random_erk": [0.80, 0.81, 0.82]})
    text = exercise.discussion(ahead, "magnitude_erk", ["random_erk"], "smoke")
    assert "did better than a random choice" in text and "lies above 0" in text


def test_the_outcome_tolerance_is_three_sds_of_a_difference_of_means():
    import math

    from hslib import exercise

    t, how = exercise.tolerance(3, _runs({"reference": [0.5, 0.6, 0.7]}))
    assert math.isclose(t, 3 * 10 * math.sqrt(2 / 3)) and "s = 10.00 pp: the sd of the reference's 3 runs" in how


# ------------------------------------------------------------------------------------ notebook 09 headless
def _execute(tmp_path, monkeypatch, solution, name, seeds=SEEDS):
    import papermill as pm

    from hslib import reproduce

    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("HSLIB_HEADLESS", "1")
    monkeypatch.setenv("HSLIB_PROJECT", str(ROOT))
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke", "solution": solution, "seeds": seeds},
                        kernel_name=reproduce.kernel_name(None), cwd=str(ROOT), progress_bar=False,
                        config=reproduce.kernel_config(), kernel_manager_class=reproduce.kernel_manager_class())
    return out


@pytest.mark.slow
def test_notebook_09_runs_the_reference_and_stops_the_stub_and_a_broken_file(tmp_path, monkeypatch):
    import nbformat
    import papermill as pm

    t0 = time.perf_counter()
    with pytest.raises(pm.PapermillExecutionError) as e:  # the default: the student's stub
        _execute(tmp_path, monkeypatch, "", "stub")
    assert "NotImplementedError" in str(e.value) and "MagnitudeERK.init is yours to write" in str(e.value)
    with pytest.raises(pm.PapermillExecutionError) as e:
        _execute(tmp_path, monkeypatch, str(_file(tmp_path, FORGETS_THE_MASK)), "leaky")
    assert "MethodCheckError" in str(e.value) and "invariant 'masked weights stay zero' violated" in str(e.value)
    t1 = time.perf_counter()
    out = _execute(tmp_path, monkeypatch, "reference", "reference")
    t2 = time.perf_counter()
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/markdown", "")
                   for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []))
    assert all(f"passed: {n}" in text for n in NAMES + ["keeps the largest initial |w|"]), text
    assert "Magnitude-ERK − Random-ERK" in text and "**The exercise's question.** At this profile" in text
    figures = tmp_path / "outputs" / "figures" / "smoke"
    assert {p.name for p in figures.glob("exercise_your_own_method.*")} == {"exercise_your_own_method.png",
                                                                            "exercise_your_own_method.pdf"}
    assert list((tmp_path / "outputs" / "runs").glob("*/result.json")) == []  # its runs stay out of the main store
    assert len(list((tmp_path / "outputs" / "runs" / "exercise").glob("*/result.json"))) == 4 * len(SEEDS)
    print(f"notebook 09: stub and broken file {t1 - t0:.1f}s, reference {t2 - t1:.1f}s")
