"""The data fingerprint of a dataset: what a run or a probe records of the data it learnt from, so that a later
command can tell, with or without `--data`, that the folder it opens holds other data under the same name.

It is computed from the manifest alone (no shard is read, so it costs nothing): the generator, its seed and
config, the frame shape, the views per scene, the viewpoint kind, the scenes per split and a digest of each
split's list of shard sha256 sums. `digest` summarises all of them. Standard library only.
"""

import hashlib
import json

from .common import UserError
from .manifest import SPLITS

#: The manifest keys a fingerprint copies, in order.
FACTS = ("generator", "seed", "config", "frame_shape", "views_per_scene", "viewpoint_kind")


def json_digest(value) -> str:
    """Return the hex sha256 of a JSON-able value, written with sorted keys and no spaces (the same value, the
    same digest)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def data_fingerprint(manifest: dict) -> dict:
    """Return the fingerprint (a JSON-able dict) of the dataset described by `manifest` (a loaded, checked one):
    {"digest": hex sha256 of the rest, the FACTS keys, "splits": {split: {"scenes": count, "shards": hex sha256 of
    the split's shard sha256 sums in scene order}}}."""
    fingerprint = {key: manifest[key] for key in FACTS}
    fingerprint["splits"] = {}
    for split in SPLITS:
        info = manifest["splits"][split]
        sums = [e["sha256"] for e in sorted(info["shards"], key=lambda e: e["first_scene"])]
        fingerprint["splits"][split] = {"scenes": info["scenes"], "shards": json_digest(sums)}
    return {"digest": json_digest(fingerprint), **fingerprint}


def facts_of(fingerprint: dict) -> dict:
    """Return the FACTS of a fingerprint without its scene counts, shard digests and digest: what every dataset
    made by the same generator command and seed shares, whatever its --n and --test-n (scene j of a split is
    drawn from (seed, split, j) alone: generation.py). Compared with check_same_data, it accepts such a smaller
    dataset and nothing else."""
    return {key: fingerprint[key] for key in FACTS if key in fingerprint}


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + "..."


def _walk(name: str, old, new) -> list:
    """Return "NAME OLD vs NEW" for each leaf on which two values differ, naming a dict's keys as NAME.KEY."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [phrase for k in sorted(set(old) | set(new)) for phrase in _walk(f"{name}.{k}", old.get(k), new.get(k))]
    return [f"{name} {_short(old)} vs {_short(new)}"] if json_digest(old) != json_digest(new) else []


def fingerprint_differences(recorded: dict, found: dict) -> list:
    """Return what differs between a `recorded` fingerprint (or the part of one an older run knows: only its keys
    are compared) and the `found` one of the data at hand: short phrases "NAME RECORDED vs FOUND" (nested keys
    as "config.KEY.SUBKEY ...", "SPLIT scenes ..."; "SPLIT shards (other files...)" only when no fact differs);
    empty when they agree."""
    if recorded.get("digest") is not None and recorded.get("digest") == found.get("digest"):
        return []
    differ = [phrase for key in FACTS if key in recorded for phrase in _walk(key, recorded[key], found.get(key))]
    splits = recorded.get("splits", {})
    for split, info in splits.items():
        if "scenes" in info and info["scenes"] != found.get("splits", {}).get(split, {}).get("scenes"):
            differ.append(f"{split} scenes {info['scenes']} vs {found['splits'][split]['scenes']}")
    if not differ:   # other files of the same facts (when a fact differs, the files differ too: not repeated)
        differ = [f"{split} shards (other files: regenerated or altered)" for split, info in splits.items()
                  if "shards" in info and info["shards"] != found.get("splits", {}).get(split, {}).get("shards")]
    if not differ and "digest" in recorded:   # a field this version does not know
        differ.append(f"digest {recorded['digest'][:12]} vs {found.get('digest', '')[:12]}")
    return differ


def check_same_data(recorded: dict, manifest: dict, folder, holder: str, kind: str) -> None:
    """Raise UserError (one line) unless the data described by `manifest` (in `folder`) is the data of the
    `recorded` fingerprint (or part of one): "{holder} was trained on other data than 'NAME' in FOLDER:
    differences ({kind} vs data)". `holder` names the run or probe, `kind` is "run" or "probe"."""
    differ = fingerprint_differences(recorded, data_fingerprint(manifest))
    if differ:
        raise UserError(f"{holder} was trained on other data than '{manifest['dataset']}' in {folder}: "
                        f"{', '.join(differ)} ({kind} vs data)")
