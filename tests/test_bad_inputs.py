"""The bad-input table: every entry point turns a bad input into one error that names the parameter and its
allowed values, before any run directory is written.

Each row is (id, what to call, expected exception type or exit status, a regex the message must match exactly
once). A callable gets the test's tmp_path (the current folder too); a command line (a list) runs in a
subprocess, "python" meaning this interpreter and {t} / {repo} the tmp_path / the project. Afterwards no run
directory may exist anywhere under tmp_path.
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from hslib import adversarial, corruptions, planning, sweep
from hslib.config import PROFILES, RunConfig
from hslib.notebook import setup

REPO = Path(__file__).resolve().parents[1]
TINY = dict(dataset="digits", model="resnet18", width=0.0625, epochs=3, batch_size=64, data_ratio=0.3,
            profile="smoke", device="cpu", update_every=1.0)
IMAGES = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
SET = RunConfig(**TINY, method="set", density=0.2)
# argparse's wording for --profile, and the list every other entry point gives
CHOICES = r"\(choose from " + ", ".join(f"'?{p}'?" for p in sorted(PROFILES)) + r"\)"
ALLOWED_PROFILES = re.escape(str(sorted(PROFILES)))


def papermill_bad_parameter(t):
    """A real papermill execution: 00_quickstart with `workers` injected as a string."""
    import papermill as pm

    from hslib.reproduce import kernel_name

    pm.execute_notebook(str(REPO / "notebooks" / "00_quickstart.ipynb"), str(t / "executed.ipynb"),
                        parameters={"workers": "abc"}, kernel_name=kernel_name(None), cwd=str(t),
                        progress_bar=False)


CASES = [
    # --- RunConfig fields
    ("config-dataset", lambda t: RunConfig(dataset="mnist"), ValueError,
     r"dataset='mnist' is not allowed; allowed values: \['digits', 'cifar10', 'cifar100', 'tinyimagenet'\]"),
    ("config-model", lambda t: RunConfig(model="resnet50"), ValueError,
     r"model='resnet50' is not allowed; allowed values: \[.*'vgg19'\]"),
    ("config-method", lambda t: RunConfig(method="magic", density=0.5), ValueError,
     r"method='magic' is not allowed; allowed values: \[.*'set'.*\]"),
    ("config-density", lambda t: RunConfig(method="set", density=1.5), ValueError,
     r"density=1.5 is not allowed; allowed values: a number in \(0, 1\]"),
    ("config-lr-string", lambda t: RunConfig(lr="0.1"), ValueError,
     r"lr='0.1' is not allowed; allowed values: a number > 0"),
    ("config-seed-bool", lambda t: RunConfig(seed=True), ValueError,
     r"seed=True is not allowed; allowed values: an integer >= 0"),
    ("config-epochs-float", lambda t: RunConfig(epochs=2.5), ValueError,
     r"epochs=2.5 is not allowed; allowed values: an integer >= 1"),
    ("config-lr-milestones", lambda t: RunConfig(lr_milestones=0.5), ValueError,
     r"lr_milestones=0.5 is not allowed; allowed values: a list of fractions of training in \(0, 1\)"),
    ("config-unknown-field", lambda t: RunConfig.from_dict({"sparsity": 0.5}), ValueError,
     r"unknown RunConfig field\(s\) \['sparsity'\]; allowed fields: \[.*'density'.*\]"),
    ("config-device", lambda t: RunConfig(device="tpu"), ValueError,
     r"device='tpu' is not allowed; allowed values: 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("config-precision", lambda t: RunConfig(precision="fp16"), ValueError,
     r"precision='fp16' is not allowed; allowed values: \['fp32', 'bf16'\]"),
    ("config-data-root-type", lambda t: RunConfig(data_root=5), ValueError,
     r"data_root=5 is not allowed; allowed values: '' \(\$HSLIB_DATA or ./data\) or a folder path"),
    # --- corruption name / severity
    ("config-corruption-name", lambda t: RunConfig(corruption="fog+rain"), ValueError,
     r"corruption='fog\+rain' is not allowed; allowed values: '' or '\+'-joined names from \[.*'gaussian_noise'"),
    ("config-severity-string", lambda t: RunConfig(corruption="fog", severity="5"), ValueError,
     r"severity='5' is not allowed; allowed values: \[1, 2, 3, 4, 5, 6\]"),
    ("corrupt-name", lambda t: corruptions.corrupt(IMAGES, "rain", 3), ValueError,
     r"name must be one of gaussian_noise, .*saturate.*; got 'rain'"),
    ("corrupt-severity", lambda t: corruptions.corrupt(IMAGES, "fog", 7), ValueError,
     r"severity must be an int in \(1, 2, 3, 4, 5, 6\), got 7"),
    ("corrupt-severity-bool", lambda t: corruptions.corrupt(IMAGES, "fog", True), ValueError,
     r"severity must be an int in \(1, 2, 3, 4, 5, 6\), got True"),
    # --- adversarial eps / steps / norm
    ("config-adversarial", lambda t: RunConfig(adversarial="l1"), ValueError,
     r"adversarial='l1' is not allowed; allowed values: \['', 'linf', 'l2'\]"),
    ("config-adv-eps-negative", lambda t: RunConfig(adversarial="linf", adv_eps=-0.1), ValueError,
     r"adv_eps=-0.1 is not allowed; allowed values: a number >= 0"),
    ("config-adv-eps-string", lambda t: RunConfig(adversarial="linf", adv_eps="8/255"), ValueError,
     r"adv_eps='8/255' is not allowed; allowed values: a number >= 0"),
    ("config-adv-steps", lambda t: RunConfig(adversarial="linf", adv_steps=0), ValueError,
     r"adv_steps=0 is not allowed; allowed values: an integer >= 1"),
    ("attack-norm", lambda t: adversarial.make_attack(None, norm="l1"), ValueError,
     r"norm='l1' is not known; allowed values: \['linf', 'l2'\]"),
    ("attack-eps-nan", lambda t: adversarial.make_attack(None, eps=float("nan")), ValueError,
     r"eps=nan must be a real number >= 0"),
    ("attack-steps", lambda t: adversarial.make_attack(None, steps=2.5), ValueError,
     r"steps=2.5 must be an integer >= 1"),
    # --- sweep API: executor and its options
    ("sweep-executor", lambda t: sweep.run([SET], executor="cluster", root=t / "runs"), ValueError,
     r"executor='cluster' is not known; allowed values: \['inline', 'local', 'slurm'\]"),
    ("sweep-workers-zero", lambda t: sweep.run([SET], executor="local", workers=0, root=t / "runs"), ValueError,
     r"workers=0 is not allowed; allowed values: an integer >= 1"),
    ("sweep-slurm-option-to-inline", lambda t: sweep.run([SET], executor="inline", root=t / "runs", partition="gpu"),
     ValueError, r"partition='gpu' only apply to executor='slurm', not executor='inline' \(which takes no executor "
                 r"options\); slurm's options: \[.*'partition'.*\]"),
    ("sweep-slurm-option-to-local", lambda t: sweep.run([SET], executor="local", root=t / "runs", cluster="local"),
     ValueError, r"cluster='local' only apply to executor='slurm', not executor='local' \(which takes only workers\)"),
    ("sweep-workers-to-slurm", lambda t: sweep.run([SET], executor="slurm", workers=4, root=t / "runs"), ValueError,
     r"workers=4 only applies to executor='local', not executor='slurm'"),
    ("sweep-workers-to-inline", lambda t: sweep.run([SET], executor="inline", workers=2, root=t / "runs"), ValueError,
     r"workers=2 only applies to executor='local', not executor='inline' \(which takes no executor options\)"),
    ("sweep-unknown-option", lambda t: sweep.run([SET], executor="slurm", root=t / "runs", qos="high"), ValueError,
     r"unknown executor option\(s\) \['qos'\]; allowed: workers \(executor='local'\), \[.*'partition'.*\] "
     r"\(executor='slurm'\)"),
    ("sweep-slurm-parents", lambda t: sweep.run([SET], executor="slurm", root=t / "runs", parents="never"), ValueError,
     r"parents='never' is not allowed; allowed values: \['wave', 'dependency'\]"),
    ("sweep-slurm-timeout-type", lambda t: sweep.run([SET], executor="slurm", root=t / "runs", timeout_min="1h",
                                                      dry_run=True), ValueError,
     r"timeout_min='1h' is not allowed; allowed values: an integer >= 1"),
    ("sweep-slurm-env", lambda t: mock.patch.dict(os.environ, {"HSLIB_SLURM_MEM_GB": "lots"})(
        sweep.slurm_options_from_env)(), ValueError,
     r"HSLIB_SLURM_MEM_GB='lots' is not allowed \(slurm option mem_gb\); allowed values: an integer"),
    ("sweep-grid-experiment", lambda t: planning.grid("fig99", "smoke"), ValueError,
     r"experiment='fig99' is not known; allowed values: \[.*'el2n'.*\]"),
    ("sweep-grid-methods", lambda t: planning.grid("el2n", "smoke", methods=["magic"]), ValueError,
     r"methods=\['magic'\] are not known; allowed values: \[.*'set'.*\]"),
    # --- sweep API: data, checked once up front (a gpu sweep without CIFAR-100 used to fail once per run)
    ("sweep-gpu-empty-data-root", lambda t: sweep.run(planning.grid("corruption", "gpu", data_root=str(t / "empty")),
                                                       root=t / "runs", progress="none"), FileNotFoundError,
     r"data_root='[^']*empty' has no dataset 'cifar100': looked for \S*cifar-100-python\. Put the torchvision"),
    ("sweep-missing-data-root", lambda t: sweep.run(planning.grid("el2n", "smoke", data_root=str(t / "nope")),
                                                     root=t / "runs", progress="none"), FileNotFoundError,
     r"data_root='[^']*nope' is not a folder \(needed for \['digits'\]\); allowed values: '' \(\$HSLIB_DATA or "
     r"./data\) or an existing folder"),
    ("sweep-default-data-root-without-cifar10", lambda t: sweep.run(planning.grid("adversarial", "gpu"), root=t / "runs",
                                                                     progress="none"), FileNotFoundError,
     r"data_root='' = \$HSLIB_DATA or ./data, here \S+/data\) data_root='\S+' has no dataset 'cifar10'"),
    # --- notebook parameters of the wrong type, as papermill injects them
    ("notebook-profile-int", lambda t: setup(profile=3), ValueError,
     r"profile=3 is not known; allowed values: " + ALLOWED_PROFILES),
    ("notebook-profile-list", lambda t: setup(profile=["smoke"]), ValueError,
     r"profile=\['smoke'\] is not known; allowed values: " + ALLOWED_PROFILES),
    ("notebook-workers-string", lambda t: setup(executor="local", workers="2"), ValueError,
     r"workers='2' is not allowed; allowed values: 0 \(automatic\) or an integer >= 1"),
    ("notebook-workers-bool", lambda t: setup(executor="local", workers=True), ValueError,
     r"workers=True is not allowed; allowed values: 0 \(automatic\) or an integer >= 1"),
    ("notebook-workers-for-inline", lambda t: setup(executor="inline", workers=2), ValueError,
     r"workers=2 only applies to executor='local', not executor='inline'; allowed values: 0"),
    ("notebook-data-root-int", lambda t: setup(data_root=5), ValueError,
     r"data_root=5 is not a folder; allowed values: '' \(use \$HSLIB_DATA or ./data\) or an existing folder"),
    ("notebook-method-int", lambda t: setup(method=3), ValueError,
     r"method=3 is not known; allowed values: \[.*'set'.*\]"),
    ("notebook-papermill-workers-string", papermill_bad_parameter, Exception,  # papermill's PapermillExecutionError
     r"ValueError: workers='abc' is not allowed; allowed values: 0 \(automatic\) or an integer >= 1"),
    # --- python -m hslib.sweep
    (r"cli-sweep-profile", ["python", "-m", "hslib.sweep", "--profile", "nope", "--outputs", "{t}/outputs"], 2,
     r"argument --profile: invalid choice: 'nope' " + CHOICES),
    ("cli-sweep-methods", ["python", "-m", "hslib.sweep", "--methods", "magic", "--outputs", "{t}/outputs"], 2,
     r"error: methods=\['magic'\] are not known; allowed values: \[.*'set'.*\]"),
    ("cli-sweep-workers-zero", ["python", "-m", "hslib.sweep", "--executor", "local", "--workers", "0", "--outputs",
                                "{t}/outputs"], 2, r"error: workers=0 is not allowed; allowed values: an integer >= 1"),
    ("cli-sweep-partition-to-inline", ["python", "-m", "hslib.sweep", "--partition", "gpu", "--outputs",
                                       "{t}/outputs"], 2,
     r"error: option\(s\) partition='gpu' only apply to executor='slurm', not executor='inline'"),
    ("cli-sweep-gpu-without-cifar100", ["python", "-m", "hslib.sweep", "--profile", "gpu", "--experiment",
                                        "corruption", "--data", "{t}/empty", "--outputs", "{t}/outputs"], 2,
     r"has no dataset 'cifar100': looked for \S*cifar-100-python"),
    # --- python -m hslib.reproduce, and make reproduce
    ("cli-reproduce-executor", ["python", "-m", "hslib.reproduce", "--executor", "nope", "--outputs", "{t}/outputs"], 2,
     r"argument --executor: invalid choice: 'nope' \(choose from '?inline'?, '?local'?, '?slurm'?\)"),
    ("cli-reproduce-workers", ["python", "-m", "hslib.reproduce", "--workers", "-1", "--outputs", "{t}/outputs"], 1,
     r"workers=-1 is not allowed; allowed values: 0 \(automatic\) or an integer >= 1"),
    ("cli-reproduce-workers-for-inline", ["python", "-m", "hslib.reproduce", "--executor", "inline", "--workers", "2",
                                          "--outputs", "{t}/outputs"], 1,
     r"workers=2 only applies to executor='local', not executor='inline'"),
    ("cli-reproduce-missing-data", ["python", "-m", "hslib.reproduce", "--data", "{t}/nope", "--outputs",
                                    "{t}/outputs"], 1,
     r"data='[^']*nope' is not a folder; allowed values: '' \(use \$HSLIB_DATA or ./data\) or an existing folder"),
    ("cli-reproduce-gpu-empty-data", ["python", "-m", "hslib.reproduce", "--profile", "gpu", "--data", "{t}/empty",
                                      "--outputs", "{t}/outputs"], 1,
     r"profile='gpu' needs data that is not there; nothing was run:\n.*has no dataset 'cifar100'"),
    ("cli-reproduce-only", ["python", "-m", "hslib.reproduce", "--only", "99", "--outputs", "{t}/outputs"], 1,
     r"only='99' matches no notebook; allowed values: prefixes of \['00_quickstart'.*'09_exercise_your_own_method', '10_structured_sparsity'\]"),
    ("cli-reproduce-kernel", ["python", "-m", "hslib.reproduce", "--kernel", "nope", "--outputs", "{t}/outputs"], 1,
     r"kernel='nope' is not an installed Jupyter kernel; allowed values: \[.*'python3'.*\]"),
    ("make-reproduce-profile", ["make", "-s", "-C", "{repo}", "-o", ".venv/.installed", "reproduce", "PROFILE=nope"],
     2, r"argument --profile: invalid choice: 'nope' " + CHOICES),
    ("make-reproduce-executor", ["make", "-s", "-C", "{repo}", "-o", ".venv/.installed", "reproduce",
                                 "EXECUTOR=nope"], 2,
     r"argument --executor: invalid choice: 'nope' \(choose from '?inline'?, '?local'?, '?slurm'?\)"),
]


@pytest.mark.parametrize("call,expected,pattern", [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_is_one_clear_error_before_any_run(call, expected, pattern, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    for var in ("HSLIB_DATA", "HSLIB_DOWNLOAD", "HSLIB_PROJECT", "HSLIB_OUTPUTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HSLIB_OUTPUTS", str(tmp_path / "outputs"))  # notebooks' runs root
    (tmp_path / "empty").mkdir()  # a data root without any dataset
    if isinstance(call, list):
        if call[0] == "make" and not (REPO / ".venv" / ".installed").exists():
            pytest.skip("make reproduce needs the installed .venv (make venv)")
        cmd = [sys.executable if a == "python" else a.format(t=tmp_path, repo=REPO) for a in call]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        message = proc.stderr
        assert proc.returncode == expected, proc.stdout + proc.stderr
        assert "Traceback" not in message, message
    else:
        with pytest.raises(expected) as e:
            call(tmp_path)
        message = str(e.value)
        out, err = capfd.readouterr()
        assert not re.search(pattern, out + err, re.S), "the error was also printed: " + out + err
    assert len(re.findall(pattern, message, re.S)) == 1, message  # names the parameter and its allowed values, once
    written = [p for p in tmp_path.rglob("*") if p.name in ("config.json", "result.json", "train.log", "error.txt")]
    assert not written and not (tmp_path / "runs").exists() and not (tmp_path / "outputs" / "runs").exists()
