# jumpdata: make demo | make test | make bench | make gpu-check | make weights
# TORCH_SPEC picks the torch build pip installs first (torch==2.13.0: the CPU build on our CI machines,
# the usual CUDA build from PyPI elsewhere). Override: make test TORCH_SPEC=torch
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo
# The demo run's two pictures, and the shipped model's beside them: context and query frames
FORWARD := --context 0,1,2 --query 3,5,8,10,13,15,18,20
BACKWARD := --context 18,20 --query 0,5,10

.PHONY: install demo test bench gpu-check weights clean-demo

$(BIN)/jumpdata: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/jumpdata

test: install
	$(BIN)/python -m pytest -q

# Small datasets of each kind, their pictures, about 5 minutes of CPU training (preset tiny) and its samples, under demo/.
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
	rm -rf $(DEMO)/run
	$(BIN)/jumpdata train $(DEMO)/shards --dataset salesman --preset tiny --out $(DEMO)/run
	$(BIN)/jumpdata sample $(DEMO)/run $(FORWARD) --samples 4 --out $(DEMO)/samples_forward.png
	$(BIN)/jumpdata sample $(DEMO)/run $(BACKWARD) --samples 4 --out $(DEMO)/samples_backward.png
	$(BIN)/jumpdata sample $(DEMO)/run --context 0,1 --query 5,10,15,20 --samples 4 --out $(DEMO)/samples_forward.gif
	@if $(BIN)/jumpdata pretrained | grep -q '^salesman-32 '; then \
		$(BIN)/jumpdata sample --pretrained salesman-32 $(FORWARD) --samples 4 --out $(DEMO)/pretrained_forward.png && \
		$(BIN)/jumpdata sample --pretrained salesman-32 $(BACKWARD) --samples 4 --out $(DEMO)/pretrained_backward.png; \
	else echo "demo: no shipped salesman-32 model (jumpdata pretrained), so no pretrained_*.png"; fi
	@echo "demo: pictures are in $(DEMO)/"

bench: install
	$(BIN)/python bench/narratives.py
	$(BIN)/python bench/dice.py
	$(BIN)/python bench/import_gqn.py
	$(BIN)/python bench/read.py
	$(BIN)/python bench/train.py

# The GPU path in one go on a CUDA machine, under 8 minutes: nvidia-smi, the CUDA and compile-once tests, training
# speed of the tiny and salesman presets eager and compiled, a --workers 4 run, a two-process torchrun run, the
# largest batch of the salesman and dice presets, dice views/s with the EGL renderer (a warning where EGL is
# missing), then one table of every figure. Without CUDA it says so in one line and fails.
gpu-check: install
	PYTHON=$(BIN)/python JUMPDATA=$(BIN)/jumpdata bash bench/gpu_check.sh

# Every shipped model and probe made again from scratch on this CPU with its recipe's commands
# (jump_model/pretrained/recipes.py), timed, then packaged into jump_model/pretrained/shipped/ (docs/pretrained.md).
# Hours: the recipes run one after another. One recipe: make weights WEIGHTS=salesman-32
WEIGHTS ?=
weights: install
	$(BIN)/jumpdata pretrained retrain $(WEIGHTS) --work weights-work

clean-demo:
	rm -rf $(DEMO)
