# The two commands a user types on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# CPU build of torch; for CUDA see README ("GPU install").
TORCH  ?= torch==2.13.0

.PHONY: demo test test-all bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/biosim run models/izhikevich2003.toml --duration 1000 --out results/izhikevich2003
	@echo "figure: results/izhikevich2003/raster.png"

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" --nbmake -p no:cacheprovider

test-all: $(STAMP)
	$(PY) -m pytest -q --nbmake

# every ratio to results/bench.csv, then docs/performance.md and its scaling plot
bench: $(STAMP)
	rm -f results/bench.csv
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	$(PY) benchmarks/report.py

clean:
	rm -rf $(VENV) results .pytest_cache
