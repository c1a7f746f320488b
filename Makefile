# jumpdata: make demo | make test | make bench
# TORCH_SPEC picks the torch build pip installs first (torch==2.13.0: the CPU build on our CI machines,
# the usual CUDA build from PyPI elsewhere). Override: make test TORCH_SPEC=torch
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo

.PHONY: install demo test bench clean-demo

$(BIN)/jumpdata: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/jumpdata

test: install
	$(BIN)/python -m pytest -q

# Small datasets of each kind, their pictures, a few minutes of CPU training and its samples, under demo/.
demo: install
	mkdir -p $(DEMO)
	$(BIN)/jumpdata narratives --story salesman --n 2000 --size 32 --out $(DEMO)/shards --shard-size 500
	$(BIN)/jumpdata narratives --story color_reaction --n 200 --out $(DEMO)/shards
	$(BIN)/jumpdata dice --digits 100 --n 200 --test-n 20 --out $(DEMO)/shards
	$(BIN)/jumpdata info $(DEMO)/shards
	$(BIN)/jumpdata show $(DEMO)/shards --dataset salesman --scenes 0-7 --scale 3 --out $(DEMO)/salesman.png
	$(BIN)/jumpdata show $(DEMO)/shards --dataset salesman --scenes 0-8 --scale 3 --out $(DEMO)/salesman.gif
	$(BIN)/jumpdata show $(DEMO)/shards --dataset color_reaction --scenes 0-7 --out $(DEMO)/color_reaction.png
	$(BIN)/jumpdata show $(DEMO)/shards --dataset dice --scenes 0-3 --scale 2 --out $(DEMO)/dice.png
	@echo "demo: pictures are in $(DEMO)/"

bench: install
	$(BIN)/python bench/narratives.py
	$(BIN)/python bench/dice.py

clean-demo:
	rm -rf $(DEMO)
