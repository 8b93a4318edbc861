# The front-door commands (README): `make demo` runs the main job, `make test` the tests.
# Both build a virtual environment in .venv first (a stock Debian/Ubuntu python3 is
# "externally managed" and refuses a global pip install) and start the local services.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install services demo test test-deep check clean

$(BIN)/botbill: pyproject.toml
	@deploy/prereqs.sh $(PYTHON) --services
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(BIN)/botbill

services: install
	$(BIN)/botbill stack up

demo: services
	$(BIN)/botbill demo

test: services
	$(BIN)/python -m pytest

# the property tests with many more examples and a random seed (CI runs them derandomized)
test-deep: install
	HYPOTHESIS_PROFILE=deep $(BIN)/python -m pytest tests/billing_rules tests/streams -m "not integration"

PACKAGES := billing_rules schemas streams sinks deploy api

check: install
	$(BIN)/ruff check .
	rm -rf build/typecheck && mkdir -p build/typecheck/botbill
	cp botbill/*.py build/typecheck/botbill/
	for p in $(PACKAGES); do ln -s "$$PWD/$$p" build/typecheck/botbill/$$p; done
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
