# Quick start: `make train` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
WORKDIR ?= runs/harlow
TWO_STEP_WORKDIR ?= runs/two_step

.PHONY: install install-ray install-dmlab train train-two-step test lint format benchmark clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Ray (optional): environment workers as Ray actors (config.env.executor=ray), sweeps on a cluster.
$(RAY_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,ray]'
	touch $(RAY_STAMP)

install-ray: $(RAY_STAMP)

# DeepMind Lab (optional): a wheel you built from its source, with the dm-env extra it needs.
install-dmlab: $(STAMP)
	@test -n "$(DMLAB_WHEEL)" || { echo "usage: make install-dmlab DMLAB_WHEEL=path/to/deepmind_lab-<version>.whl" >&2; exit 2; }
	$(PY) -m pip install --quiet "$(DMLAB_WHEEL)[dmenv_module]"
	$(PY) -c "import deepmind_lab; print('deepmind_lab', deepmind_lab.__file__)"

# The default Harlow experiment (built-in simulator, bundled faces), then held-out evaluation.
train: $(STAMP)
	$(PY) -m harlow.train --config=configs/harlow.py --workdir=$(WORKDIR)
	$(PY) -m harlow.evaluate --workdir=$(WORKDIR) --episodes=500

train-two-step: $(STAMP)
	$(PY) -m harlow.train --config=configs/two_step.py --workdir=$(TWO_STEP_WORKDIR)
	$(PY) -m harlow.evaluate --workdir=$(TWO_STEP_WORKDIR) --episodes=300

# The tests include a real local Ray cluster, so they install the Ray extra.
test: $(RAY_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

benchmark: $(STAMP)
	$(PY) -m harlow.benchmark two_step --seeds=8

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
