# Two commands for a learner: `make lab` and `make test`. Everything else is for maintainers.
VENV      := .venv
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
LAB_PORT  ?= 8888
PYTEST    := $(BIN)/python -m pytest

setup: $(STAMP)

.PHONY: setup lab test lint format exercises progress watch clean-outputs kill-servers bench bench-quick book hub-proxy hub clean

# Set up: a venv with Python >= 3.12, requirements installed again only when they change,
# and the repo on the venv's path so notebooks can `import tutorial` from any folder.
$(STAMP): requirements.txt tools/find_python.sh tools/link_repo.py
	@PY=$$(sh tools/find_python.sh) || exit 1; \
	if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "Creating $(VENV) with $$PY"; rm -rf $(VENV); "$$PY" -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python tools/link_repo.py
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/python tools/lab.py --port $(LAB_PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# After editing solutions/ or adding a lesson: navigation cells first, then the learner copies.
exercises: $(STAMP)
	$(BIN)/python -m tutorial nav
	$(BIN)/python -m tutorial exercises

# Both read your exercise notebooks as saved on disk: save in JupyterLab first.
progress: $(STAMP)
	$(BIN)/python -m tutorial progress

watch: $(STAMP)
	$(BIN)/python -m tutorial watch

# A notebook you ran and saved keeps its outputs; this puts every committed notebook back clean.
clean-outputs: $(STAMP)
	$(BIN)/python -m tutorial clean-outputs

# One command for a server left behind (see README, Troubleshooting): the companion sites and
# PostgreSQL clusters of this checkout only (their processes carry its path), with their folders.
kill-servers: $(STAMP)
	$(BIN)/python -m tutorial.services kill

# The lessons as a static site (Sphinx + myst-nb), every lesson executed in a fresh kernel:
# open docs/book/_build/html/index.html. Two lessons at a time (BOOK_JOBS): one per core.
BOOK_OUT  := docs/book/_build/html
BOOK_JOBS ?= 2

book: $(STAMP)
	rm -rf $(BOOK_OUT)
	$(BIN)/sphinx-build -j $(BOOK_JOBS) -q -W --keep-going -c docs/book . $(BOOK_OUT)
	@echo "built: $(BOOK_OUT)/index.html"

# A workshop on one host (docs/instructors.md): the hub's proxy comes from the npm registry.
HUB_PROXY := workshop/node_modules/.installed

hub-proxy: $(HUB_PROXY)

$(HUB_PROXY): workshop/package.json workshop/package-lock.json
	cd workshop && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

hub: $(STAMP) $(HUB_PROXY)
	$(BIN)/jupyterhub -f workshop/jupyterhub_config.py

# GENERATOR=auto takes wrk when it is installed; the committed results used GENERATOR=asyncio.
GENERATOR ?= auto

bench: $(STAMP)
	$(BIN)/python -m benchmarks --generator $(GENERATOR)

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick --generator $(GENERATOR)

clean:
	rm -rf $(VENV) .pytest_cache docs/book/_build
