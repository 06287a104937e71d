# The whole set-up on a fresh machine: `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# re-install when pyproject.toml changes
STAMP_DEMO := $(VENV)/.installed-demo-$(shell cksum pyproject.toml | cut -d' ' -f1)
STAMP_TEST := $(VENV)/.installed-test-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test install bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

# llama-cpp-python builds from source once (~6 min on 2 cores); pip's wheel cache keeps the wheel.
$(STAMP_DEMO): $(PY) pyproject.toml
	$(PIP) install --quiet -e '.[local]'
	touch $@

$(STAMP_TEST): $(PY) pyproject.toml
	$(PIP) install --quiet -e '.[local,server,hf,dev]'
	touch $@

install: $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(VENV)/bin/synthloom run demo -o runs/demo --plain

test: $(STAMP_TEST)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP_TEST)
	@echo "see benchmarks/README.md"

clean:
	rm -rf $(VENV) runs
