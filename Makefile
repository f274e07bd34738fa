# The two commands of the README.  Both set up what they need and reuse it on the next run:
#   make report   the chapter's examples across the six default backends
#   make test     the test suite, with every backend's environment
VENV := .venv
PY := $(VENV)/bin/python
BASE_PYTHON ?= python3

.PHONY: report test envs bench test-tools
report: $(VENV)/.ready
	$(PY) -m pooling_xfw envs create
	$(PY) -m pooling_xfw report

test: envs test-tools
	$(PY) -m pytest

# framework versions besides the pinned ones, each in a venv of its own (tests/test_versions.py
# compares them side by side): one more ONNX Runtime, small wheels (about 300 MB, under a minute)
EXTRA_VERSIONS := onnxruntime@1.22.1

envs: $(VENV)/.ready
	$(PY) -m pooling_xfw envs create --jobs 6
	$(PY) -m pooling_xfw envs create --backends $(EXTRA_VERSIONS)

# what the tests drive for real: Debian's chromium (the HTML report in a headless browser) and
# openssh-server (a backend over an ssh gateway, on 127.0.0.1 only)
test-tools:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	  [ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	  if [ -n "$$missing" ]; then echo "installing Debian's$$missing (tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

bench: envs
	$(PY) benchmarks/bench_reference.py
	$(PY) benchmarks/bench_gradient.py

# the calling environment: numpy, the test tools, this project (editable)
$(VENV)/.ready: pyproject.toml adapters/requirements/core.txt
	$(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r adapters/requirements/core.txt -e .
	touch $@
