"""One registry style (hslib.registry.Registry) for models, methods, datasets, corruptions, executors and panel
renderers: entries are validated when added, an unknown name gets one error naming every allowed value, and every
entry of every registry is exercised here."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hslib import corruptions, figures, paper, plots  # noqa: E402
from hslib.architectures import masked_layers, parameter_count  # noqa: E402
from hslib.flops import dense_layer_flops  # noqa: E402
from hslib.models import build_model  # noqa: E402
from hslib.registry import Registry, UnknownName  # noqa: E402
from hslib.sparse import Method, implementation, maskable, register  # noqa: E402
from hslib.sparse.methods import BUILTIN, FixedRandom  # noqa: E402
from hslib.vocabulary import CORRUPTIONS, DATASETS, METHODS, MODELS, MethodInfo  # noqa: E402


def test_a_registry_validates_on_add_and_names_the_allowed_values():
    def check(name, entry):
        if not isinstance(entry, int):
            raise ValueError(f"thing {name!r}: {entry!r} is not an int")

    r = Registry("thing", check)
    assert r.add("one", 1) == 1 and list(r) == ["one"] and "one" in r and "two" not in r and [] not in r
    with pytest.raises(ValueError, match="is not an int"):
        r.add("two", "2")
    with pytest.raises(ValueError, match="registered already; pass replace=True"):
        r.add("one", 11)
    r.add("one", 11, replace=True)
    with pytest.raises(ValueError, match=r"thing name 'Bad Name' is not allowed"):
        r.add("Bad Name", 3)
    with pytest.raises(UnknownName, match=r"^thing='zero' is not known; allowed values: \['one'\]$"):
        r["zero"]
    with pytest.raises(KeyError):  # mapping code may catch KeyError, input validation ValueError
        r["zero"]
    assert r.get("zero") is None and r.get("one") == 11


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("width, image_size", [(1.0, 32), (0.0625, 32), (0.25, 64)])
def test_every_model_matches_its_table(model, width, image_size):
    """hslib.architectures (torch-free) describes exactly the network hslib.models builds."""
    net = build_model(model, 10, width=width, image_size=image_size)
    table = masked_layers(model, 10, width, image_size)
    assert [(n, tuple(p.shape)) for n, p in maskable(net)] == [(t["name"], t["shape"]) for t in table]
    traced = dense_layer_flops(net, image_size)
    assert all(traced[t["name"]] == pytest.approx(t["flops"]) for t in table)
    assert parameter_count(model, 10, width, image_size) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_entry_resolves_to_a_class_that_agrees_with_it(name):
    info, cls = METHODS[name], implementation(name)
    assert issubclass(cls, Method) and cls.name == name and cls in BUILTIN
    assert (cls.distributions if info.sparse else ("none",)) == info.distributions
    assert (cls.needs_parent, cls.sparse) == (info.needs_parent, info.sparse)
    assert matplotlib.colors.is_color_like(info.colour) and info.label


def test_a_method_entry_is_validated_when_added():
    with pytest.raises(ValueError, match=r"distributions=\('erk', 'diagonal'\) is not allowed"):
        METHODS.add("bad_method", MethodInfo("Bad", "#123456", ("erk", "diagonal")))
    assert "bad_method" not in METHODS


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_entry_is_consistent(name):
    info = DATASETS[name]
    assert info.image_size in (32, 64) and info.num_classes >= len(info.example_classes) == 2
    assert info.train_images > 0


def test_the_embedded_dataset_loads_as_its_entry_says():
    from hslib.data import class_names, load_dataset

    x, y = load_dataset("digits", split="train")
    info = DATASETS["digits"]
    assert x.shape[1:] == (3, info.image_size, info.image_size) and len(y) == info.train_images
    assert len(class_names("digits")) == info.num_classes and set(info.example_classes) <= set(class_names("digits"))


def test_a_corruption_operation_is_validated_when_added():
    with pytest.raises(ValueError, match=r"corruption 'gaussian_noise': 3 is not allowed; allowed: a function"):
        corruptions.OPERATIONS.add("gaussian_noise", 3, replace=True)
    with pytest.raises(ValueError, match=r"corruption 'rain': .* under one of the names"):
        corruptions.OPERATIONS.add("rain", lambda x8, p, rng: x8)
    assert corruptions.OPERATIONS["gaussian_noise"] is corruptions.gaussian_noise and "rain" not in corruptions.OPERATIONS


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_every_corruption_name_has_its_operation(name):
    assert list(corruptions.OPERATIONS) == list(CORRUPTIONS) and corruptions.OPERATIONS[name].__name__ == name
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    y = corruptions.corrupt(x, name, 3)
    assert y.shape == x.shape and y.dtype == torch.uint8


@pytest.mark.parametrize("show", sorted({p.show for f in paper.ALL_FIGURES for p in f.panels}))
def test_every_panel_kind_of_the_paper_has_a_renderer(show):
    assert show in figures.RENDERERS or show in figures.WHOLE_FIGURE
    assert set(figures.RENDERERS) | set(figures.WHOLE_FIGURE) == {p.show for f in paper.ALL_FIGURES for p in f.panels}


def test_a_method_registered_at_run_time_is_drawn_with_its_own_label_and_colour():
    class MyMagnitude(FixedRandom):
        """A test method."""
        name, label, colour, distributions = "my_magnitude_test", "My magnitude", "#123456", ("erk",)

    register(MyMagnitude)
    try:
        rows = pd.DataFrame({"method": ["dense", "my_magnitude_test"] * 2, "test_acc": [0.5, 0.6, 0.55, 0.65],
                             "seed": [0, 0, 1, 1], "sparsity": [0.0, 0.8, 0.0, 0.8]})
        fig, ax = plt.subplots()
        plots.method_bars(ax, rows, "test_acc", "title")
        plots.method_legend(fig, plots.methods_in(rows))
        assert [t.get_text() for t in ax.get_xticklabels()] == ["Dense", "My magnitude"]
        assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Dense", "My magnitude"]
        assert matplotlib.colors.to_hex(ax.patches[-1].get_facecolor()) == "#123456"
        plt.close(fig)
    finally:
        METHODS.remove("my_magnitude_test")


@pytest.mark.parametrize("name", ["inline", "local", "slurm"])
def test_every_executor_is_one_registry_entry_with_the_common_interface(name):
    from hslib.executors import EXECUTORS, Executor

    assert list(EXECUTORS) == ["inline", "local", "slurm"]
    ex = EXECUTORS[name]
    assert isinstance(ex, Executor) and ex.name == name
    ex.check(2 if name == "local" else None, {"partition": "gpu"} if name == "slurm" else {})  # what it takes
    with pytest.raises(ValueError, match=r"unknown executor option\(s\) \['nodes'\]"):
        ex.check(None, {"nodes": 3})
    if name != "local":
        with pytest.raises(ValueError, match=rf"workers=2 only applies to executor='local', not executor='{name}'"):
            ex.check(2, {})
    if name != "slurm":
        with pytest.raises(ValueError, match=r"option\(s\) partition='gpu' only apply to executor='slurm'"):
            ex.check(None, {"partition": "gpu"})
    assert ex.takes_children({}) is False
    with pytest.raises(UnknownName, match=r"executor='ray' is not known; allowed values: \['inline', 'local', 'slurm'\]"):
        EXECUTORS["ray"]
