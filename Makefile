# Two commands set everything up on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: lab test demo install clean

# Create the venv if missing and (re)install whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# JupyterLab on notebooks/, bound to localhost, with its token on (the URL with the token is printed).
# Jupyter refuses to run as root unless told; containers often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 $(ALLOW_ROOT)

# The whole test suite (the browser test needs Debian's Chromium: installed with apt when missing).
test: $(STAMP) chromium converter
	$(PY) -m pytest

# /usr/bin/chromium for tests/test_browser.py; needs root and apt (CI). LAB_SKIP_BROWSER=1 skips both.
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || [ "$$LAB_SKIP_BROWSER" = "1" ] || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

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

clean:
	rm -rf runs .pytest_cache
