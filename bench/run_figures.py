"""The figures of bench/gpu_check.sh: one JSON line per measured row, then one table of them all.

    python bench/run_figures.py RUN_FOLDER --name NAME --figures FILE   # a training run's row, from metrics.jsonl
    python bench/run_figures.py --table FILE                            # print every row of FILE as one table

A row is a JSON object with "name" and any of the keys of COLUMNS; bench/train.py and bench/largest_batch.py
append theirs with --figures too. A run's row is the median over its metrics lines after the first (which holds
the start-up), leaving out the lines that include an evaluation.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

# key -> (column heading, format of a value)
COLUMNS = {"steps_per_s": ("steps/s", "{:8.2f}"), "scenes_per_s": ("scenes/s", "{:9.1f}"),
           "data_wait_share": ("data wait", "{:9.1%}"), "outside_model_share": ("outside model", "{:13.1%}"),
           "peak_gib": ("peak GiB", "{:8.2f}"), "largest_batch": ("largest batch", "{:>13}")}


def append_row(path, row: dict) -> None:
    """Append one row (a dict with "name") to the figures file `path` (None: do nothing)."""
    if path is not None:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def run_row(run: Path, name: str) -> dict:
    """Return the row of a finished training run: median scenes/s and data-wait share of its metrics lines after
    the first, without the lines that include an evaluation. SystemExit with one line when there are none."""
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][1:]
    lines = [m for m in lines if "eval_nelbo" not in m] or lines
    if not lines:
        sys.exit(f"run_figures: {run} logged fewer than two metrics lines; run it for more --log-every intervals")
    return {"name": name, "scenes_per_s": statistics.median(m["scenes_per_s"] for m in lines),
            "data_wait_share": statistics.median(m["data_wait_share"] for m in lines)}


def table(rows: list) -> str:
    """Return the rows as one text table: a column per key of COLUMNS that some row has, "-" where a row has none."""
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    width = max([len(r["name"]) for r in rows] + [4])
    head = f"{'':{width}}  " + "  ".join(f"{COLUMNS[k][0]:>{len(COLUMNS[k][1].format(0))}}" for k in keys)
    body = [f"{r['name']:{width}}  " + "  ".join(COLUMNS[k][1].format(r[k]) if k in r else
                                                f"{'-':>{len(COLUMNS[k][1].format(0))}}" for k in keys)
            for r in rows]
    return "\n".join([head, *body])


def main():
    """Append a run's row to --figures, or print the --table of a figures file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="training run folder")
    parser.add_argument("--name", help="the run's row name")
    parser.add_argument("--figures", help="figures file to append the run's row to")
    parser.add_argument("--table", help="figures file to print as one table")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(x) for x in Path(args.table).read_text().splitlines()]))
    elif args.run and args.name and args.figures:
        append_row(args.figures, run_row(args.run, args.name))
    else:
        parser.error("give RUN_FOLDER --name NAME --figures FILE, or --table FILE")


if __name__ == "__main__":
    main()
