# Two entry points (see README): `make run` trains the default agent, `make test` runs the suite.
# Both create .venv on first use; re-running is quick because the install step is skipped while
# requirements.txt and pyproject.toml are unchanged (the stamp file records the last install).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.amago_edu-installed
BOOK_DEPS := $(VENV)/.book-deps
EXTRAS_STAMP := $(VENV)/.benchmark-extras

.PHONY: setup run test test-fast notebooks clean-notebooks book extras

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and exact: a loose spec would pull a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m amago_edu.main

test: $(STAMP) $(VENV)/.browser-test-deps $(EXTRAS_STAMP)
	$(PY) -m pytest -q

# the optional benchmark packages the suite tests (Meta-World, Atari, Procgen; README "Benchmarks"): Procgen's EnvPool
# needs the system Qt5 runtime, and --no-deps keeps its install to what Procgen uses (see requirements-procgen.txt)
extras: $(EXTRAS_STAMP)

$(EXTRAS_STAMP): requirements-metaworld.txt requirements-atari.txt requirements-procgen.txt $(STAMP)
	ldconfig -p | grep -q libQt5Gui || { $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y -qq --no-install-recommends libqt5gui5; }
	$(PY) -m pip install --quiet -r requirements-metaworld.txt -r requirements-atari.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-procgen.txt
	touch $@

# the browser tests (tests/course/test_browser.py: JupyterLab; tests/course/test_book.py: the built book): Debian's chromium,
# playwright from PyPI, and the book's requirements
$(VENV)/.browser-test-deps: requirements-test.txt $(BOOK_DEPS)
	command -v chromium >/dev/null || { $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y -qq chromium chromium-driver; }
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# the executed book (README + every notebook in FAST mode, with outputs): build/book/_build/html/index.html
book: $(BOOK_DEPS)
	$(PY) -m tools.dev book

$(BOOK_DEPS): requirements-book.txt $(STAMP)
	$(PY) -m pip install --quiet -r requirements-book.txt
	touch $@

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not notebook and not browser"

notebooks: $(STAMP)
	$(PY) -m amago_edu.main --notebooks

clean-notebooks: $(STAMP)
	$(PY) -m tools.dev clean-notebooks
