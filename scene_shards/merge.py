"""`jumpdata merge`: join the N parts of a dataset (scene_shards.parts) into the dataset a one-machine run makes.

Everything is checked before anything is written: every part 1..N present once, none still being written
(its lock held), all made with the same settings, each complete, each shard present and matching its sha256.
Then the shards of parts found in other folders are copied into the dataset folder and the dataset manifest
is written, byte-identical to the one a one-machine run writes.
"""

import shutil
from pathlib import Path

from .common import UserError
from .files import AtomicFile, sha256_of, write_json_atomic
from .lock import FolderLock
from .manifest import FORMAT, SPLITS, choose_name, differences, load_manifest, manifest_path
from .parts import Part, find_part_manifests, load_part_manifest, lock_name, named_part, owned_shards, parts_in


def merge_parts(folder, dataset=None, sources=()) -> dict:
    """Check the parts of `dataset` found in `folder` and the folders `sources`, copy their shards into `folder`
    and write the dataset manifest there; return it (dict). `dataset` may be omitted when the parts found are of
    one dataset. Raises UserError (one line naming the part) before writing anything if a part is missing,
    duplicated, still being written, incomplete, damaged or made with other settings than part 1."""
    folder = Path(folder)
    places = list(dict.fromkeys(Path(p).resolve() for p in (folder, *sources)))
    for place in places:
        if not place.is_dir():
            raise UserError(f"{place} is not a folder")
    dataset = _choose_dataset(places, dataset)
    found = [(place, part, path) for place in places for part, path in parts_in(place, dataset)]
    with FolderLock(folder, lock_name(dataset), f"merging dataset '{dataset}'"):
        locks = []
        try:
            for place, part, _ in found:
                locks.append(_lock_part(place, part, dataset))
            parts = {}
            for place, _, path in found:
                part, m = load_part_manifest(path)
                if part in parts:
                    raise UserError(f"part {part} of '{dataset}' is in both {parts[part][0]} and {place}; keep one")
                parts[part] = (place, m)
            merged = _check_parts(dataset, parts)
            _check_target(folder, merged)
            for place, m in parts.values():
                _bring_shards(place, folder, m)
            write_json_atomic(manifest_path(folder, dataset), merged)
        finally:
            for lock in locks:
                lock.release()
    return merged


def _choose_dataset(places: list, dataset) -> str:
    """Return the dataset whose parts are merged: `dataset`, or the only one with parts in `places`."""
    names = sorted({named_part(p)[0] for place in places for p in find_part_manifests(place)})
    where = ", ".join(map(str, places))
    return choose_name(names, dataset, missing=f"no parts of dataset '{dataset}' (NAME.part-K-of-N.json) in {where}",
                       empty=f"no parts (NAME.part-K-of-N.json, made with --part K/N) in {where}",
                       several=f"parts of several datasets in {where} ({', '.join(names)}); choose one with "
                               f"--dataset NAME")


def _lock_part(place: Path, part, dataset: str) -> FolderLock:
    """Take the lock of `part` of `dataset` in `place`; UserError naming the part when its run still holds it."""
    lock = FolderLock(place, lock_name(dataset, part), f"generating part {part} of dataset '{dataset}'")
    try:
        return lock.acquire()
    except UserError:
        raise UserError(f"part {part} of '{dataset}' in {place} is still being written ({lock.holder()}); "
                        f"merge when it has finished") from None


def _check_parts(dataset: str, parts: dict) -> dict:
    """Return the dataset manifest the parts {Part: (folder, part manifest)} make together; UserError naming the
    first part that is missing, of another count, made with other settings than the first, or incomplete."""
    first = min(parts, key=lambda p: (p.count, p.index))
    count = first.count
    for part, (place, _) in sorted(parts.items(), key=lambda item: (item[0].count, item[0].index)):
        if part.count != count:
            raise UserError(f"part {part} of '{dataset}' in {place} is one of {part.count} parts, part {first} one "
                            f"of {count}: the parts of two runs are mixed; remove one run's part manifests")
    missing = [f"{k}/{count}" for k in range(1, count + 1) if Part(k, count) not in parts]
    if missing:
        raise UserError(f"part {missing[0]} of '{dataset}' is missing ({len(missing)} of {count} parts missing); "
                        f"run it with --part {missing[0]}, into one of the merged folders")
    reference = parts[first][1]
    for part, (place, m) in sorted(parts.items(), key=lambda item: item[0].index):
        changed = differences(reference, m) + (["jumpdata_version"] if
                                               m["jumpdata_version"] != reference["jumpdata_version"] else [])
        if changed:
            raise UserError(f"part {part} of '{dataset}' in {place} was made with other settings than part {first} "
                            f"({', '.join(changed)}); remake it with the same command")
        listed = {e["file"] for s in SPLITS for e in m["splits"][s]["shards"]}
        owned = owned_shards(m, part)
        if listed != owned:
            raise UserError(f"part {part} of '{dataset}' in {place} is incomplete ({len(listed)} of {len(owned)} "
                            f"shards); run its command again to finish it")
    merged = {key: value for key, value in reference.items() if key != "part"}
    merged["format"] = FORMAT
    merged["splits"] = {split: {**reference["splits"][split], "shards": sorted(
        (e for _, m in parts.values() for e in m["splits"][split]["shards"]), key=lambda e: e["first_scene"])}
        for split in SPLITS}
    for place, m in parts.values():
        for entry in (e for s in SPLITS for e in m["splits"][s]["shards"]):
            path = place / entry["file"]
            if not path.is_file() or sha256_of(path) != entry["sha256"]:
                state = "missing" if not path.is_file() else "damaged (it does not match its sha256)"
                raise UserError(f"shard {path} of part {m['part']['index']}/{count} is {state}; run that part's "
                                f"command again to remake it")
    return merged


def _check_target(folder: Path, merged: dict) -> None:
    """Refuse (UserError) to merge into `folder` when it already holds shards of the dataset with other settings."""
    path = manifest_path(folder, merged["dataset"])
    if path.exists():
        old = load_manifest(path)
        changed = differences(old, merged)
        if changed and any(old["splits"][s]["shards"] for s in SPLITS):
            raise UserError(f"{path} holds '{merged['dataset']}' made with other settings ({', '.join(changed)}); "
                            f"merge into another folder, or delete that dataset's files first")


def _bring_shards(place: Path, folder: Path, m: dict) -> None:
    """Copy the shards of part manifest `m` from `place` into `folder` (atomically; none when they are the same
    folder or the copy there already matches), checking each copy's sha256."""
    if place == folder.resolve():
        return
    for entry in (e for s in SPLITS for e in m["splits"][s]["shards"]):
        target = folder / entry["file"]
        if target.is_file() and sha256_of(target) == entry["sha256"]:
            continue
        with AtomicFile(target) as tmp:
            shutil.copyfile(place / entry["file"], tmp)
            if sha256_of(tmp) != entry["sha256"]:
                raise UserError(f"the copy of {place / entry['file']} does not match its sha256 (changed while "
                                f"merging?)")
