# recsys-dr: `make test` and `make demo` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

POLICY_VENV := .venv-policy

.PHONY: install test test-policy-pack demo benchmark clean

install: $(STAMP)

# setuptools' editable finder maps recsys_dr.<folder> to the checkout's folders (setup.py).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[model,dev]'
	# MovieLens-100K ships inside recbole; its own dependencies (torch, ...) are not needed.
	$(BIN)/python -m pip install --quiet --no-deps 'recbole==1.2.1'
	touch $(STAMP)

test: $(STAMP) $(POLICY_VENV)/.installed
	$(MAKE) --no-print-directory test-policy-pack
	$(BIN)/python -m pytest

# pulumi-policy pins protobuf 5.x and TensorFlow needs >= 6.31: the pack gets its own venv.
$(POLICY_VENV)/.installed: policy/requirements.txt
	test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install --quiet -r policy/requirements.txt 'pytest>=8,<10' 'PyYAML>=6,<7'
	touch $@

test-policy-pack: $(POLICY_VENV)/.installed
	$(POLICY_VENV)/bin/python -m pytest tests/policy_pack

demo: $(STAMP)
	$(BIN)/python -m recsys_dr.model build --out artifacts
	$(BIN)/recsys-dr plan dev --out artifacts/plan-dev.json

benchmark: $(STAMP)
	$(BIN)/python -m benchmarks.model_benchmark

clean:
	rm -rf $(VENV) $(POLICY_VENV) artifacts .pytest_cache
