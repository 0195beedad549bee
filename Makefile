# Two commands set everything up on a fresh machine (Python 3.11, pip):
#   make demo   - install into .venv, then run the default search on the embedded faces
#   make test   - install into .venv (with test tools), then run lint and the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch and torchvision first, pinned: the versions that install from this machine's disk
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/raysearch submit

lint: $(STAMP)
	$(BIN)/ruff check raysearch tests bench
	$(BIN)/mypy raysearch

test: $(STAMP) lint
	$(BIN)/python -m pytest tests -q

clean:
	rm -rf $(VENV)
