# The two front-door commands (README): `make demo` runs the main job, `make test` the tests.
# Both install what they need first, on a fresh machine too.
PYTHON ?= python3

.PHONY: install demo test check

install:
	$(PYTHON) -m pip install -q -e '.[dev]'

demo: install
	botbill demo

test: install
	botbill stack up
	$(PYTHON) -m pytest

check: install
	ruff check .
	mypy
