# The two commands a fresh machine needs:
#   make demo   create .venv, install psythemes, run the main job on the bundled demo corpus
#   make test   (creates .venv too if missing) ruff + mypy (make lint), then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= results/demo

export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_HUB_DISABLE_PROGRESS_BARS=1
export TOKENIZERS_PARALLELISM=false

.PHONY: demo test lint install clean bench browser scoreboard

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch==2.13.0 in the same command keeps pip on the local CPU build
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[dev,dask]"
	touch $(STAMP)

install: $(STAMP)

DEMO := corpora/psychosomatic-demo

demo: $(STAMP)
	$(BIN)/psythemes extract $(DEMO)/transcripts --metadata $(DEMO)/metadata.csv \
	  --codebook psychosomatic --gold $(DEMO)/codes/reference.csv --out $(DEMO_OUT)

# Debian's chromium for the report's real-browser test (skipped with a reason if it cannot be installed)
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "note: chromium could not be installed; the browser test will be skipped"

# Static checks (configured in pyproject.toml); `make test` runs them first, so CI does too
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/psythemes

test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q

# Benchmarks (not tests): each prints what it measured and writes benchmarks/results/*.json
bench: $(STAMP)
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/bootstrap_speed.py
	$(BIN)/python benchmarks/embed_discover.py

scoreboard: $(STAMP)
	$(BIN)/python benchmarks/scoreboard.py

clean:
	rm -rf $(VENV) results .psythemes-cache
