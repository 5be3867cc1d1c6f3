# recsys-dr: `make test` and `make demo` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

POLICY_VENV := .venv-policy

.PHONY: install test test-policy-pack demo benchmark lock clean

install: $(STAMP)

# Every download is checked against the hashes in the lock files (requirements/, `make lock`
# writes them); the project itself is installed without dependencies and without an isolated
# build, whose setuptools would be fetched unchecked. setuptools' editable finder maps
# recsys_dr.<folder> to the checkout's folders (setup.py).
$(STAMP): pyproject.toml requirements/dev.lock requirements/recbole.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	# MovieLens-100K ships inside recbole; its own dependencies (torch, ...) are not needed.
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/recbole.lock
	touch $(STAMP)

test: $(STAMP) $(POLICY_VENV)/.installed
	$(MAKE) --no-print-directory test-policy-pack
	$(BIN)/python -m pytest

# pulumi-policy pins protobuf 5.x and TensorFlow needs >= 6.31: the pack gets its own venv.
$(POLICY_VENV)/.installed: requirements/policy-test.lock
	test -x $(POLICY_VENV)/bin/python || $(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements/policy-test.lock
	touch $@

test-policy-pack: $(POLICY_VENV)/.installed
	$(POLICY_VENV)/bin/python -m pytest tests/policy_pack

demo: $(STAMP)
	$(BIN)/python -m recsys_dr.model build --out artifacts
	$(BIN)/recsys-dr plan dev --out artifacts/plan-dev.json

benchmark: $(STAMP)
	$(BIN)/python -m benchmarks.model_benchmark

# Re-resolve the lock files after a change of pyproject.toml, policy/requirements.txt or
# requirements/*.in: every platform and Python >= 3.11, with the hash of every file.
UV_COMPILE := $(BIN)/uv pip compile --universal --python-version 3.11 --generate-hashes --no-header --quiet
lock: $(STAMP)
	$(UV_COMPILE) pyproject.toml requirements/tools.in -o requirements/plan.lock
	$(UV_COMPILE) pyproject.toml requirements/tools.in --extra model --extra dev -o requirements/dev.lock
	$(UV_COMPILE) requirements/recbole.in --no-deps -o requirements/recbole.lock
	$(UV_COMPILE) policy/requirements.txt -o policy/requirements.lock
	$(UV_COMPILE) requirements/policy-test.in -o requirements/policy-test.lock

clean:
	rm -rf $(VENV) $(POLICY_VENV) artifacts .pytest_cache
