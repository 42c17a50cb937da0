"""Check a sparsity method against the invariants every method of the registry keeps, and register new ones.

`check_method(cls)` runs the method on a tiny ResNet18 (width 1/16, ten classes, 32×32 inputs) for a few SGD
steps and either returns the names of the invariants it kept or raises one `MethodCheckError` naming the first
one it broke, with the layer and the numbers (`INVARIANTS` lists them, with a line each). `register(cls)` adds a
user-written `Method` subclass to `METHODS`, so that configs, sweeps and the inline executor accept it.

The helpers below (`make`, `initialised`, `train_steps`) drive a method the way `hslib.train` does; the tests
of the built-in methods (tests/test_sparse.py) use them too.
"""
from __future__ import annotations

import contextlib
import copy
import re

import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..models import build_model
from ..vocabulary import DISTRIBUTIONS, METHODS, MethodInfo
from .distributions import layer_counts
from .methods import BUILTIN as BUILTIN_CLASSES
from .methods import Context, Method, implementation

STEPS_PER_EPOCH = 5  # with update_every=1.0: a possible mask update every 5 steps
TRAIN_STEPS, RESUME_AT = 15, 6  # the checked run: three epochs (updates at 5, 10, 15), saved and resumed at step 6
BUILTIN = {c.name: c for c in BUILTIN_CLASSES}  # the methods hslib ships: register() never replaces one

COUNTS, ZERO_INIT, STAY_ZERO, UPDATES, RESUME = (
    "exact counts after init", "pruned weights zero after init", "masked weights stay zero",
    "counts hold through updates", "resume equality")
INVARIANTS = (
    (COUNTS, "after init every layer keeps exactly layer_counts(model, distribution, density) weights (erk, er, "
             "uniform); 'global': all layers together within one weight per layer of density·N; starts_dense: all"),
    (ZERO_INIT, "right after init every weight outside the mask is exactly zero"),
    (STAY_ZERO, "after every SGD step (Nesterov momentum, weight decay) and every mask update the pruned weights are "
                "exactly zero, and with zero_momentum their momentum too"),
    (UPDATES, "a mask update keeps every layer's count ('global': the total); exempt: keeps_density = False"),
    (RESUME, f"state_dict() with the model and optimizer state saved at step {RESUME_AT} and loaded into a fresh "
             f"instance gives the masks and weights of the uninterrupted run at step {TRAIN_STEPS}"),
)


# Kept by the methods whose masks have a structure (cls.pattern), checked after the five above held at init and
# along with them after every step and update; it ends the list check_method returns for such a method.
PATTERN = "pattern holds"
PATTERN_INVARIANT = (PATTERN, "a structured method's pattern holds after init, every step and every update: 'nm', "
                              "every full group of M weights keeps exactly N (a row's padded last group at most N); "
                              "'channel', a removed channel is out of the mask of every conv that writes it and every "
                              "layer that reads it, and its conv bias and BatchNorm weight and bias are zero")


class MethodCheckError(AssertionError):
    """A method broke an invariant: `.invariant` names it, `.passed` lists those it kept before."""

    def __init__(self, invariant: str, detail: str, passed=()):
        super().__init__(f"invariant {invariant!r} violated: {detail}")
        self.invariant, self.detail, self.passed = invariant, detail, list(passed)


# ------------------------------------------------------------------------------------- driving a method
def batch_fn(n):
    """n fixed random 32×32 images and labels: the training batch, and SNIP's `ctx.batch`."""
    g = torch.Generator().manual_seed(5)
    return torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def fake_parent(model):
    """A 'trained' dense parent: its initial weights and different final weights."""
    init = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    final = {k: (v + torch.randn(v.shape, generator=g) if v.dtype.is_floating_point else v.clone())
             for k, v in init.items()}
    return {"init": init, "final": final}


def make(method: str, density=0.2, **kw):
    """(config, model, method instance) of a registered method on the tiny ResNet18, before init."""
    torch.manual_seed(0)
    model = build_model("resnet18", 10, width=0.0625)
    fields = dict(dataset="digits", width=0.0625, epochs=10, update_every=1.0, profile="smoke", method=method,
                  density=1.0 if method == "dense" else density)
    cfg = RunConfig(**{**fields, **kw})
    return cfg, model, implementation(method)(cfg, model, STEPS_PER_EPOCH)


def initialised(method: str, density=0.2, **kw):
    """make(), then the method's init (with a fake dense parent where it needs one)."""
    cfg, model, m = make(method, density, **kw)
    parent = fake_parent(model) if m.needs_parent else None
    m.init(Context(batch=batch_fn, parent=parent))
    return cfg, model, m, parent


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)


def train_steps(model, m, n, start=0, opt=None, watch=None):
    """Steps start+1 … start+n on one fixed batch, calling the method's hooks as hslib.train does. Returns the
    optimizer and [(step, masks before, weights before)] of every mask update; `watch(step, opt)` runs after
    every after_step and every update."""
    opt = opt or sgd(model)
    x, y = batch_fn(16)
    events = []
    for step in range(start + 1, start + n + 1):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.after_step(opt)
        if watch:
            watch(step, opt)
        if m.is_event(step):
            before = [mask.clone() for mask in m.masks.values] if m.masks else None
            weights = [p.detach().clone() for p in m.masks.params] if m.masks else None
            m.update(step, opt)
            events.append((step, before, weights))
            if watch:
                watch(step, opt)
    return opt, events


# ------------------------------------------------------------------------------------- the invariants
def _counts(cfg, m) -> str | None:
    active, sizes, names = m.masks.active(), m.masks.sizes(), m.masks.names
    for name, v in zip(names, m.masks.values):
        if not torch.all((v == 0) | (v == 1)):
            return f"the mask of {name} holds values other than 0 and 1"
    if m.starts_dense:
        for name, a, n in zip(names, active, sizes):
            if a != n:
                return f"{name} has {a} active weights, expected all {n} (the class says starts_dense = True)"
    elif cfg.distribution == "global":
        target = cfg.density * sum(sizes)
        if abs(sum(active) - target) > len(sizes):
            return (f"{sum(active)} active weights in all, expected {target:.0f} ± {len(sizes)} (one per layer; "
                    f"global at density {cfg.density:g})")
    else:
        for name, a, k in zip(names, active, layer_counts(m.model, cfg.distribution, cfg.density)):
            if a != k:
                return f"{name} has {a} active weights, expected {k} ({cfg.distribution} at density {cfg.density:g})"
    return None


def _not_zero(m, tensors, what="pruned weights that are not zero") -> str | None:
    for name, t, mask in zip(m.masks.names, tensors, m.masks.values):
        if t is None:
            continue
        bad = (t.detach() != 0) & (mask == 0)
        if bad.any():
            return f"{name} has {int(bad.sum())} {what} (largest |value| {float(t.detach()[bad].abs().max()):.3g})"
    return None


def _watch(m, passed):
    """The STAY_ZERO check, run after every after_step and every update of a training run."""
    seen = {}

    def watch(step, opt):
        updated, seen[step] = seen.get(step, False), True
        when = f"after the mask update at step {step}" if updated else f"after step {step}"
        problem = _not_zero(m, m.masks.params)
        fix = "update must zero the weights it removes" if updated else "after_step must apply the mask"
        if problem is None and m.cfg.zero_momentum:
            bufs = [opt.state[p].get("momentum_buffer") for p in m.masks.params]
            problem = _not_zero(m, bufs, "pruned weights whose momentum is not zero")
            fix = "with zero_momentum=True after_step must zero their momentum too"
        if problem:
            raise MethodCheckError(STAY_ZERO, f"{when}, {problem}; {fix}", passed)
        problem = m.pattern_problem() if m.pattern else None
        if problem:
            raise MethodCheckError(PATTERN, f"{when}, {problem}", passed)

    return watch


def _updates(cfg, m, events) -> str | None:
    for step, before, _ in events:
        old, new = [int(b.sum()) for b in before], _active_after(m, step, events)
        if cfg.distribution == "global":
            if sum(old) != sum(new):
                return f"the mask update at step {step} changed the total from {sum(old)} to {sum(new)} active weights"
        else:
            for name, a, b in zip(m.masks.names, old, new):
                if a != b:
                    return f"the mask update at step {step} changed {name} from {a} to {b} active weights"
    return None


def _active_after(m, step, events):
    """Active weights per layer right after the update at `step`: the masks before the next update (or now)."""
    later = [before for s, before, _ in events if s > step]
    return [int(b.sum()) for b in later[0]] if later else m.masks.active()


def _state(model, opt, m):
    """What a checkpoint holds, copied as torch.save would (nothing shared with the live run)."""
    return copy.deepcopy({"model": model.state_dict(), "optimizer": opt.state_dict(), "method": m.state_dict()})


def _resume(cls, density, saved, model_a, m_a) -> str | None:
    _, model, m = make(cls.name, density)
    try:
        model.load_state_dict(saved["model"])
        opt = sgd(model)
        opt.load_state_dict(saved["optimizer"])
        m.load_state_dict(saved["method"])
        torch.manual_seed(2 ** 31 - 1)  # a resumed process's global RNG is in another state than the first one's
        train_steps(model, m, TRAIN_STEPS - RESUME_AT, start=RESUME_AT, opt=opt)
    except Exception as e:
        return (f"continuing from the state saved at step {RESUME_AT} raised {type(e).__name__}: {e}; "
                f"state_dict()/load_state_dict() must carry everything init builds")
    where = f"resumed at step {RESUME_AT}"
    if m_a.masks is not None:
        for i, name in enumerate(m_a.masks.names):
            diff = int((m_a.masks.bool(i) != m.masks.bool(i)).sum())
            if diff:
                return (f"{where}, the mask of {name} at step {TRAIN_STEPS} differs from the uninterrupted run's in "
                        f"{diff} positions; draw randomness from self.generator(step, purpose), never the global RNG")
    theirs = model.state_dict()
    for key, v in model_a.state_dict().items():
        if not torch.equal(v, theirs[key]):
            gap = float((v.double() - theirs[key].double()).abs().max())
            return f"{where}, {key} at step {TRAIN_STEPS} differs from the uninterrupted run's (largest gap {gap:.3g})"
    return None


def check_method(cls, density: float = 0.2) -> list[str]:
    """Run `cls` (a Method subclass, registered or not) through the invariants of INVARIANTS on a tiny ResNet18;
    return the names of those it kept (keeps_density = False exempts it from the update-count one; a method with a
    `pattern` also keeps PATTERN, listed last). Raises one
    MethodCheckError at the first violation; the caller's global RNG and the registry are left as they were."""
    if not _is_builtin(cls):  # a built-in's name, label and colour are its vocabulary entry's
        _check_class(cls)
    rng = torch.random.get_rng_state()
    passed: list[str] = []

    def verdict(invariant, problem):
        if problem:
            raise MethodCheckError(invariant, problem, passed)
        passed.append(invariant)

    try:
        with _installed(cls):
            cfg, model, m, _ = initialised(cls.name, density)
            sparse = m.masks is not None
            verdict(COUNTS, _counts(cfg, m) if sparse else None)
            problem = _not_zero(m, m.masks.params) if sparse else None
            verdict(ZERO_INIT, problem and f"{problem}; init must zero them (self._after_mask_change(0) does)")
            problem = m.pattern_problem() if sparse and m.pattern else None
            if problem:
                raise MethodCheckError(PATTERN, f"after init, {problem}", passed)
            watch = _watch(m, passed) if sparse else None
            opt, events = train_steps(model, m, RESUME_AT, watch=watch)
            saved = _state(model, opt, m)
            events += train_steps(model, m, TRAIN_STEPS - RESUME_AT, start=RESUME_AT, opt=opt, watch=watch)[1]
            if sparse:  # the same, with the momentum of pruned weights zeroed too
                _, model_z, m_z, _ = initialised(cls.name, density, zero_momentum=True)
                train_steps(model_z, m_z, STEPS_PER_EPOCH + 1, watch=_watch(m_z, passed))
            verdict(STAY_ZERO, None)
            if m.keeps_density:
                verdict(UPDATES, _updates(cfg, m, events) if sparse else None)
            verdict(RESUME, _resume(cls, density, saved, model, m))
            if sparse and m.pattern:
                verdict(PATTERN, None)
    finally:
        torch.random.set_rng_state(rng)
    return passed


# ------------------------------------------------------------------------------------- registering
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _fail(param, value, allowed, why=""):
    raise ValueError(f"{param}={value!r} is not allowed{': ' + why if why else ''}; allowed values: {allowed}")


def _owner(cls, attr):
    return next(k for k in cls.__mro__ if attr in vars(k))


def _check_class(cls):
    """One ValueError naming what a method class lacks: its own name, label and colour, valid distributions."""
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        _fail("cls", cls, "a class deriving from hslib.sparse.Method", "not a subclass of hslib.sparse.Method")
    allowed = {"name": f"a name set in the class itself (lowercase letters, digits, '_'), not one of the built-in "
                       f"{sorted(BUILTIN)}",
               "label": "a non-empty string set in the class itself: how figures name the method",
               "colour": "a matplotlib colour set in the class itself, e.g. '#393b79'"}
    for attr, text in allowed.items():
        owner = _owner(cls, attr)
        if owner is not cls and (owner is Method or owner in BUILTIN.values()):
            _fail(f"cls.{attr}", getattr(cls, attr), text, f"{cls.__name__} inherits it from {owner.__name__}")
    if not isinstance(cls.name, str) or not _NAME.fullmatch(cls.name):
        _fail("cls.name", cls.name, allowed["name"])
    if not isinstance(cls.label, str) or not cls.label.strip():
        _fail("cls.label", cls.label, allowed["label"])
    from matplotlib.colors import is_color_like

    if not isinstance(cls.colour, str) or not is_color_like(cls.colour):
        _fail("cls.colour", cls.colour, allowed["colour"])
    dists = cls.distributions
    if cls.sparse and not (isinstance(dists, tuple) and dists and all(d in DISTRIBUTIONS for d in dists)):
        _fail("cls.distributions", dists, f"a non-empty tuple of names from {list(DISTRIBUTIONS)}, the first the "
                                          f"default (e.g. ('erk',))")


def _entry(cls) -> MethodInfo:
    """The registry entry of a user's method class: what configs, plans and figures read, and the class itself."""
    return MethodInfo(cls.label, cls.colour, cls.distributions, needs_parent=cls.needs_parent, sparse=cls.sparse,
                      dashed=cls.dashed, implementation=cls, code=code_hash(cls), pattern=cls.pattern)


def _is_builtin(cls) -> bool:
    return isinstance(cls, type) and BUILTIN.get(getattr(cls, "name", None)) is cls


@contextlib.contextmanager
def _installed(cls):
    """`cls` in METHODS under its name for the duration (configs validate the method by name)."""
    if _is_builtin(cls):  # registered already, with its vocabulary entry
        yield
        return
    before = METHODS.get(cls.name)
    METHODS.add(cls.name, _entry(cls), replace=True)
    try:
        yield
    finally:
        if before is None:
            METHODS.remove(cls.name)
        else:
            METHODS.add(cls.name, before, replace=True)


def register(cls):
    """Add a Method subclass to METHODS under `cls.name` (returns cls, so it also works as a decorator).
    A built-in name is refused; a name registered before by a user (a notebook cell run again) is replaced."""
    if _is_builtin(cls):
        return cls
    _check_class(cls)
    builtin = BUILTIN.get(cls.name)
    if builtin is not None and builtin is not cls:
        _fail("cls.name", cls.name, f"a name that is not one of the built-in methods {sorted(BUILTIN)}",
              f"it is the built-in method {builtin.__name__}")
    METHODS.add(cls.name, _entry(cls), replace=True)
    return cls


def code_hash(cls) -> str:
    """12 hex digits that change whenever the code of a user-written method changes: a hash of the class's source
    (inspect.getsource), or where Python cannot see it (a class exec'd from a string, as notebook 09 grades a
    solution, or defined in some notebook cells) of its attributes and its methods' bytecode, which is stable across
    processes. A user method's run ids include it (RunConfig.id): two solutions with the same class name never
    share a run folder, and a changed class is trained afresh."""
    import hashlib
    import inspect

    parts = []
    for k in cls.__mro__:
        if k.__module__.split(".")[0] in ("hslib", "builtins"):
            parts.append(f"{k.__module__}.{k.__qualname__}")  # shipped code: config.SEMANTICS versions it
            continue
        try:
            parts.append(inspect.getsource(k))
        except (OSError, TypeError):
            skip = ("__dict__", "__weakref__", "__module__", "__firstlineno__")  # not code, or not stable
            parts.append(f"{k.__qualname__}:" + "".join(f"{n}={_value_key(v)};" for n, v in sorted(vars(k).items())
                                                         if n not in skip))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _value_key(v, depth=0) -> str:
    """A class attribute as text that does not depend on the process: functions by their bytecode and constants
    (not their file or line), nested code objects likewise, anything else by repr without memory addresses."""
    import types

    if depth > 20:
        return "..."
    v = getattr(v, "__func__", v)  # staticmethod, classmethod
    if isinstance(v, property):
        return "property(" + ",".join(_value_key(f, depth + 1) for f in (v.fget, v.fset, v.fdel)) + ")"
    v = _unwrap(v)  # decorators such as @torch.no_grad() keep the function in __wrapped__
    if isinstance(v, types.FunctionType):
        v = v.__code__
    if isinstance(v, types.CodeType):
        consts = ",".join(_value_key(c, depth + 1) for c in v.co_consts)
        return f"code({v.co_code.hex()}|{consts}|{v.co_names}|{v.co_varnames})"
    return re.sub(r" at 0x[0-9a-f]+", "", repr(v))


def _unwrap(v):
    import inspect

    try:
        return inspect.unwrap(v)
    except ValueError:  # a cycle of __wrapped__
        return v
