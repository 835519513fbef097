# Two commands: `make demo` runs the main job against the embedded sandbox store (installs bcmod only),
# `make test` runs the test suite (installs .[dev], Prefect included). Both build .venv on a fresh machine first.
# Prefect (README "Prefect flows", docs/scale-out.md): `make prefect-server` (a server in the foreground),
# `make prefect-deploy` (the work pool and prefect.yaml's deployments), `make prefect-worker` (a worker in the
# foreground); Ctrl-C stops a server or a worker. Set PREFECT_API_URL to use another server.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed

PREFECT_HOST ?= 127.0.0.1
PREFECT_PORT ?= 4200
PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
POOL := bcmod-process

.PHONY: demo test bench bench-big clean prefect-server prefect-deploy prefect-worker

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# .[dev] (tests, Prefect) is a superset of what the demo needs: either stamp lets the demo run
# An editable install compiles nothing of bcmod itself, and with PYTHONDONTWRITEBYTECODE set (as on these
# machines) every command would compile its modules again (~0.05 s of a small export): compile them once here.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q pipeline flows > /dev/null
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	$(BIN)/python -m compileall -q pipeline flows > /dev/null
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/bcmod demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -c "import bigcommerce" 2>/dev/null || $(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m compileall -q pipeline flows > /dev/null
	$(BIN)/python -m bench

# 10k, 30k and 100k products, each stage in its own process (README "Big catalogs"); takes about an hour
bench-big: $(STAMP)
	$(BIN)/python -m bench big

prefect-server: $(STAMP)
	$(BIN)/prefect server start --host $(PREFECT_HOST) --port $(PREFECT_PORT)

prefect-deploy: $(STAMP)
	PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/prefect work-pool create $(POOL) --type process --overwrite
	PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/prefect --no-prompt deploy --all

prefect-worker: $(STAMP)
	PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/prefect worker start --pool $(POOL)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
