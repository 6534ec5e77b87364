# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow test-at lint bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/datadrip demo

# pytest runs on WORKERS processes (pytest-xdist), one per core of the 2-core CI machine: the
# tests start processes of their own (datadrip, chromium, the sandbox), so more workers than
# cores only queue up. `make test WORKERS=4` on a bigger machine; WORKERS=0 runs in one process.
WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(WORKERS)

test: $(VENV)/.installed-test
	$(BIN)/ruff check datadrip tests benchmarks docs
	$(BIN)/mypy
	$(PYTEST)

# The whole suite with every process's clock moved to AT (UTC), e.g.
# make test-at AT='2027-02-28 23:30': it must pass on any date and at any hour.
test-at: $(VENV)/.installed-test
	@test -n "$(AT)" || { echo "error: say when, e.g. make test-at AT='2027-02-28 23:30'" >&2; exit 2; }
	TEST_CLOCK_SHIFT_SECONDS=$$($(BIN)/python -c 'import datetime as d, sys, time; \
	print(d.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=d.UTC).timestamp() - time.time())' \
	"$(AT)") PYTHONPATH=$(CURDIR)/tests/shifted_clock $(PYTEST)

# The sweeps CI leaves out (tests marked slow), e.g. the planted stories over a year of dates.
test-slow: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m slow -s

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/sandbox_rows.py
	$(BIN)/python benchmarks/sync_bench.py
	$(BIN)/python benchmarks/analytics_bench.py
	$(BIN)/python benchmarks/report_bench.py
	$(BIN)/python benchmarks/insights_bench.py

# The daemon over 90 simulated days with faults and 20 SIGKILLs; `make test` runs a week of it
# (tests/test_soak.py).
soak: $(VENV)/.installed-test
	$(BIN)/python benchmarks/soak.py --days 90 --kills 20

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
