# The two commands of the README.  Both set up what they need and reuse it on the next run:
#   make report   the chapter's examples across all four backends
#   make test     the test suite, with all four real frameworks
VENV := .venv
PY := $(VENV)/bin/python
BASE_PYTHON ?= python3

.PHONY: report test envs bench browser
report: envs
	$(PY) -m pooling_xfw report

test: envs browser
	$(PY) -m pytest

envs: $(VENV)/.ready
	$(PY) -m pooling_xfw envs create

# the HTML report is checked in a real headless browser: Debian's chromium
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium (HTML report test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bench: envs
	$(PY) benchmarks/bench_reference.py

# the calling environment: numpy, the test tools, this project (editable)
$(VENV)/.ready: pyproject.toml adapters/requirements/core.txt
	$(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r adapters/requirements/core.txt -e .
	touch $@
