"""Shipped models: trained JUMP checkpoints and probes that travel with the package (docs/pretrained.md).

    catalog.py   where the shipped folders are, their names and cards, the `jumpdata pretrained` lines (stdlib only)
    recipes.py   the one table of the commands that make each shipped folder (stdlib only)
    scenes.py    a shipped model's test scenes, remade from its card's data command into a cache and checked
    use.py       `sample --pretrained` and `eval --pretrained`: a shipped model on its remade scenes
    package.py   a finished run (or probe) folder -> a shipped folder: stripped checkpoint, config, card
    retrain.py   `make weights`: every recipe made again from scratch, then packaged

shipped/NAME/ holds one shipped model or probe (package data). Importing this package loads nothing.
"""
