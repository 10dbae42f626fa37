# `make test` is what CI runs (.ci/run): it installs what the tests need, starts a Docker engine when
# none answers (root on Debian only), builds the offline images, then runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
export TESTCONTAINERS_RYUK_DISABLED := true

.PHONY: venv engine offline-images test unit integration bench wheel clean

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

engine: venv
	VENV_PY=$(PY) scripts/ensure-engine.sh

offline-images: engine
	$(PY) tests/offline_images.py

test: offline-images
	$(PY) -m pytest -q -p no:cacheprovider

unit: venv
	$(PY) -m pytest -q -p no:cacheprovider -m "not integration"

bench: offline-images
	$(PY) bench/bench.py

wheel: venv
	$(PY) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf dist build *.egg-info
