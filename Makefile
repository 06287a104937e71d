# The whole set-up on a fresh machine: `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# re-install when pyproject.toml changes
STAMP_DEMO := $(VENV)/.installed-demo-$(shell cksum pyproject.toml | cut -d' ' -f1)
STAMP_TEST := $(VENV)/.installed-test-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test install bench clean system-deps

# Debian packages the tests need: bubblewrap (the code sandbox) and chromium (HTML report checks, and the web
# viewer's browser tests, which drive it through Playwright: no browser is downloaded), and coq (coqc, the proof
# checker of the formal-proofs recipe, run inside the sandbox).
system-deps:
	@if ! command -v bwrap >/dev/null || ! command -v chromium >/dev/null || ! command -v coqc >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "installing Debian packages: bubblewrap chromium coq"; \
	  $$SUDO apt-get install -y -q bubblewrap chromium coq >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q bubblewrap chromium coq >/dev/null; } || \
	  echo "WARNING: could not install bubblewrap/chromium/coq; sandbox, report and proof tests will fail"; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

# llama-cpp-python builds from source once (~6 min on 2 cores); pip's wheel cache keeps the wheel.
$(STAMP_DEMO): $(PY) pyproject.toml
	$(PIP) install --quiet -e '.[local]'
	touch $@

$(STAMP_TEST): $(PY) pyproject.toml
	$(PIP) install --quiet -e '.[local,server,hf,embed,verify,report,ray,docs,tabular,dev]'
	touch $@

install: $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(VENV)/bin/synthloom run demo -o runs/demo --plain

test: system-deps $(STAMP_TEST)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP_TEST)
	@echo "see benchmarks/README.md"

clean:
	rm -rf $(VENV) runs
