# Two commands set everything up on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab reset-notebook app test demo install clean

# Create the venv if missing and (re)install whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# JupyterLab on your own copies of the notebooks, bound to localhost, with its token on (the URL with the
# token is printed). JupyterLab writes to what it opens, so the committed notebooks/ stay clean: the first
# `make lab` copies them to $(WORK)/ (ignored by git), later ones copy only notebooks that are new there and
# never overwrite your edited copies. Jupyter refuses to run as root unless told; containers often run as root.
WORK := my-notebooks
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(PY) -m lab.workspace --target $(WORK)
	$(VENV)/bin/jupyter lab --notebook-dir=$(WORK) --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT)

# A clean copy of one notebook; yours is kept beside it, renamed: make reset-notebook NB=01_coupling_playground
reset-notebook: $(STAMP)
	$(PY) -m lab.workspace --target $(WORK) --reset "$(NB)"

# The classroom app: the coupling playground, the W inspector and the compression studio as code-free pages
# (voila serves app/, one tiny notebook per page; start at the menu page it prints), bound to localhost with a
# token like `make lab`. Each page starts its own kernel; runs are saved in runs/, shared with the notebooks.
APP_PORT ?= 8866
app: $(STAMP)
	@echo "classroom app: open http://127.0.0.1:$(APP_PORT)/voila/render/index.ipynb?token=... (the token is printed below)"
	$(VENV)/bin/voila app --no-browser --port=$(APP_PORT) --Voila.ip=127.0.0.1 --token --strip_sources=True

# The whole test suite (the browser test needs Debian's Chromium: installed with apt when missing).
test: $(STAMP) chromium postgres converter
	$(PY) -m pytest

# /usr/bin/chromium for tests/test_browser.py; needs root and apt (CI). LAB_SKIP_BROWSER=1 skips both.
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || [ "$$LAB_SKIP_BROWSER" = "1" ] || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

# Debian's PostgreSQL server for tests/test_tune_postgres.py (started there on loopback as a non-root
# user in a temporary folder and port, whatever the package starts); needs root and apt (CI).
# LAB_SKIP_POSTGRES=1 skips both.
.PHONY: postgres
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ "$$LAB_SKIP_POSTGRES" = "1" ] || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

# The LiteRT converter's own venv, .venv-litert/ (~7 GB, minutes, made once; a no-op when it is there):
# litert-torch caps typing-extensions<4.13, which breaks JupyterLab, so it never enters $(VENV).
# lab/deploy/litert_env.py (stdlib only) makes it; LAB_SKIP_CONVERTER=1 skips it and the tests that need it.
.PHONY: converter
converter: $(STAMP)
	@[ "$$LAB_SKIP_CONVERTER" = "1" ] || $(PY) -I lab/deploy/litert_env.py

# Headless end-to-end run: couple -> compress -> export. Trains every coupling strategy and prints
# the comparison table (runs saved under runs/), then compresses the saved cross-stitch system and
# the reference MLP step by step, exports both to ONNX (parity checked) and prints their tables.
demo: $(STAMP)
	$(PY) -m lab couple --data digits --compare --save
	$(PY) -m lab compress --run latest --strategy cross_stitch --recipe prune:0.8,kmeans:16,int8 \
		--export runs/demo/cross_stitch.onnx
	$(PY) -m lab compress --model mlp --recipe prune:0.9,kmeans:16,int8 --export runs/demo/mlp.onnx

# Removes runs and caches; your notebooks in $(WORK)/ stay.
clean:
	rm -rf runs .pytest_cache
