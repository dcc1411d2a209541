# doorward — every target sets up what it needs from nothing.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
EXTRAS  := dev,server,kiosk
PYTEST  := $(PY) -m pytest

.PHONY: test soak bench demo venv clean screenshots

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(PYTEST) --durations=20 -m "not soak"

soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak $(PYTEST) --durations=20 -m soak --run-soak

bench: $(STAMP)
	$(PY) -m bench

# Regenerates the screenshots in docs/ from the browser walk-throughs (never run by `make test`).
screenshots: $(STAMP)
	DOORWARD_SCREENSHOTS_DIR=$(CURDIR)/docs $(PYTEST) -q -p no:cacheprovider tests/e2e/test_kiosk_browser.py tests/e2e/test_console_browser.py

demo: $(STAMP)
	$(PY) -m doorward.sim.demo.main

clean:
	rm -rf $(VENV) .pytest_cache bench/results.json
