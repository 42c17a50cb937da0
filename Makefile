# Two commands: `make reproduce` (every notebook on a profile) and `make test`.
# Both create .venv if it is missing, install hslib into it, register the Jupyter kernel, then run.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
KERNEL   := hslib
PROFILE  ?= smoke
EXECUTOR ?= local
DATA     ?=
WORKERS  ?=
LAB_ARGS ?=
CHECK    ?=
# Jupyter refuses to start as root without --allow-root (root containers are common): pass it only then.
ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: reproduce reference test bench venv clean-runs book lab browser

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,slurm]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (hslib)" >/dev/null
	touch $@

venv: $(VENV)/.installed

# reproduce writes into outputs/reproduced/ and reports against the committed reference (CHECK=1: fail if it
# differs); reference regenerates the committed reference of PROFILE on purpose: the same reproduction, promoted
# over the reference only when every notebook finished (then review and commit it).
REPRODUCE = $(PY) -m hslib.reproduce --profile $(PROFILE) --executor $(EXECUTOR) --kernel $(KERNEL) \
		$(if $(DATA),--data $(DATA)) $(if $(WORKERS),--workers $(WORKERS))

reproduce: $(VENV)/.installed
	$(REPRODUCE) $(if $(filter 1 yes true,$(CHECK)),--check)

reference: $(VENV)/.installed
	$(REPRODUCE) --reference

book: $(VENV)/.installed  # the executed notebooks of PROFILE as a static site: outputs/book/$(PROFILE)/index.html
	$(PY) -m hslib.book --profile $(PROFILE)

lab: $(VENV)/.installed  # JupyterLab on the notebooks, with the registered hslib kernel (LAB_ARGS: e.g. --port=8889)
	$(VENV)/bin/jupyter lab notebooks/ $(ALLOW_ROOT) $(LAB_ARGS)

# The browser tests (tests/browser.py) need Chromium and its chromedriver: installed from Debian when missing
# and we are root; otherwise one line says what to install (and those tests fail, saying the same).
browser:
	@if { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null \
		&& command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium and chromium-driver (Debian) for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "make test: the browser tests need Chromium and chromedriver, missing here: sudo apt-get install -y chromium chromium-driver"; fi

test: $(VENV)/.installed browser
	$(PY) -m pytest -q -ra

bench: $(VENV)/.installed
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean-runs: $(VENV)/.installed  # the generated folders of hslib.store's outputs layout
	$(PY) -m hslib.store clean
