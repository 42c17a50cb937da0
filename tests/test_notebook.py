import pytest

from hslib.notebook import setup


@pytest.mark.parametrize("kwargs,needle", [
    ({"profile": "huge"}, "profile='huge'"),
    ({"executor": "cloud"}, "executor='cloud'"),
    ({"workers": -1}, "workers=-1"),
    ({"data_root": "/no/such/folder"}, "data_root='/no/such/folder'"),
    ({"method": "magic"}, "method='magic'"),
])
def test_notebook_parameters_are_validated(kwargs, needle):
    with pytest.raises(ValueError, match=needle) as e:
        setup(**kwargs)
    assert "allowed values" in str(e.value)


def test_setup_finds_the_project_and_its_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path))
    s = setup(profile="smoke")
    assert (s.root / "pyproject.toml").exists() and s.runs == tmp_path / "runs"
    assert s.settings["pairs"]["el2n"] == [["digits", "resnet18"]]
