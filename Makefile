# The two commands a user needs: `make demo` and `make test`. Both create .venv and
# install the project (with the dev extra) when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo demo-live test bench clean

$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The credit-risk pipeline end to end on the embedded default (no cloud, no server):
# validate -> train -> evaluate (quality, slices, fairness, robustness) -> track -> register.
demo: $(STAMP)
	$(VENV)/bin/modelway run pipelines/credit_risk.py
	$(VENV)/bin/modelway models show credit-risk
	$(VENV)/bin/modelway runs report latest

# The online half: serve the demo model, canary a retrained candidate, watch a degraded one
# roll back on its own, drift the traffic, see the monitor alert and the trigger retrain.
demo-live: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m modelway.demo.live

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf .modelway mlruns .pytest_cache
