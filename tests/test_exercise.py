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


# ------------------------------------------------------------------------------------ notebook 09
NOTEBOOK = ROOT / "notebooks" / "09_exercise_your_own_method.ipynb"

CORRECT = '''
import torch
from hslib.sparse import Method, layer_counts


class MyMagnitude(Method):
    name, label, colour, distributions = "my_magnitude", "My magnitude", "#637939", ("erk",)

    @torch.no_grad()
    def init(self, ctx):
        for i, (w, k) in enumerate(zip(self.masks.params, layer_counts(self.model, "erk", self.cfg.density))):
            keep = torch.zeros(w.numel(), dtype=torch.bool)
            keep[w.abs().flatten().argsort(descending=True)[:k]] = True
            self.masks.set(i, keep.view_as(w))
        self._after_mask_change(0)
'''

LEAKY = CORRECT + '''
    def after_step(self, optimizer):
        pass  # forgot to apply the mask
'''


def test_the_stored_notebook_is_clean_and_parametrised():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"] == {"name": "hslib", "display_name": "Python (hslib)", "language": "python"}
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and 'solution = ""' in "".join(params[0]["source"])
    from hslib import reproduce

    assert reproduce.FINAL[-1] == ("09_exercise_your_own_method", {})


def _execute(tmp_path, monkeypatch, solution, name):
    import papermill as pm

    from hslib import reproduce

    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("HSLIB_HEADLESS", "1")
    monkeypatch.setenv("HSLIB_PROJECT", str(ROOT))
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={"profile": "smoke", "solution": solution},
                        kernel_name=reproduce.kernel_name(None), cwd=str(ROOT), progress_bar=False,
                        config=reproduce.kernel_config(), kernel_manager_class=reproduce.kernel_manager_class())
    return out


@pytest.mark.slow
def test_notebook_09_grades_a_correct_and_a_broken_solution(tmp_path, monkeypatch):
    import nbformat
    import papermill as pm

    t0 = time.perf_counter()
    out = _execute(tmp_path, monkeypatch, CORRECT, "correct")
    t1 = time.perf_counter()
    text = "".join(o.get("text", "") for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []))
    assert all(f"passed: {n}" in text for n in NAMES), text
    figures = tmp_path / "outputs" / "figures" / "smoke"
    assert {p.name for p in figures.glob("exercise_your_own_method.*")} == {"exercise_your_own_method.png",
                                                                            "exercise_your_own_method.pdf"}
    assert list((tmp_path / "outputs" / "runs").glob("*/result.json")) == []  # its runs stay out of the main store
    assert len(list((tmp_path / "outputs" / "runs" / "exercise").glob("*/result.json"))) == 2  # my_magnitude, set
    with pytest.raises(pm.PapermillExecutionError) as e:
        _execute(tmp_path, monkeypatch, LEAKY, "leaky")
    assert "MethodCheckError" in str(e.value) and "invariant 'masked weights stay zero' violated" in str(e.value)
    print(f"notebook 09: correct solution {t1 - t0:.1f}s, broken solution {time.perf_counter() - t1:.1f}s")
