# The two commands a user needs: `make demo` and `make test`. Both create .venv and
# install the project (with the dev extra) when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo demo-live test bench mutate clean

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

# Mutation testing of the trust-critical modules (not part of `make test`): one module at a time,
# each within BUDGET seconds, at the lowest CPU priority; prints a score per module and every
# surviving mutant. `make mutate MODULES="policy_check/waivers registry/audit" BUDGET=300`.
MUTATE_STAMP := $(VENV)/.mutate-stamp
MODULES ?=
BUDGET  ?=
# `make mutate WHOLE=1 [SAMPLE=200 SEED=1 BUDGET=3600]`: the whole-package score, estimated from a
# seeded sample of mutants, each tested by the tests that run its line (tools/mutate_whole.py).
WHOLE   ?=
SAMPLE  ?=
SEED    ?=

$(MUTATE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,mutate]'
	@touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP)
	nice -n 19 $(PY) tools/mutate.py $(if $(BUDGET),--budget $(BUDGET)) $(if $(WHOLE),--whole-package \
	  $(if $(SAMPLE),--sample $(SAMPLE)) $(if $(SEED),--seed $(SEED)),$(MODULES))

clean:
	rm -rf .modelway mlruns .pytest_cache .mutate
