# The two commands a user types on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# CPU build of torch; for CUDA see README ("GPU install").
TORCH  ?= torch==2.13.0

.PHONY: demo test test-all bench docs notebooks clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[all,dev]"
	$(PY) -m biosim.warmup  # numba's cache: a user's first run loads kernels, not compiles them
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/biosim run models/izhikevich2003.toml --duration 1000 --out results/izhikevich2003
	@echo "figure: results/izhikevich2003/raster.png"

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" --nbmake -p no:cacheprovider

test-all: $(STAMP)
	$(PY) -m pytest -q --nbmake

# the documentation site, offline, into site/ (warnings are errors; also tested by make test)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# run every notebook and store its outputs (the site and the repository pages show them)
notebooks: $(STAMP)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=900 notebooks/*.ipynb

# every ratio to results/bench.csv, then docs/performance.md and its scaling plot
bench: $(STAMP)
	rm -f results/bench.csv
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	$(PY) benchmarks/report.py --replace

clean:
	rm -rf $(VENV) results site .pytest_cache
