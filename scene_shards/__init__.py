"""The HDF5 scene-shard format of jumpdata, and the machinery around it.

Modules, each with one job:

    common       UserError and package_version (standard library only; safe to import anywhere)
    files        atomic writes, checksums, temporary names
    manifest     the dataset's manifest NAME.json: names, creation, loading, checks
    chunks       the frames' chunks: ISA-L deflate and inflate, h5py's filter for foreign chunks
    jpeg_frames  frames kept as JPEG files (format version 3), decoded when read
    writer       one shard file: encode scenes, write, rename into place
    reader       ShardDataset: one split of a dataset as random-access scenes
    verify       sha256 checks of a folder (`jumpdata info`)
    fingerprint  what a run records of its data, from the manifest (data_fingerprint, fingerprint_differences)
    generation   the parallel, deterministic, resumable driver every generator runs through
    parts        --part K/N: the shards a part owns, its manifest and its lock
    merge        `jumpdata merge`: the parts checked and joined into the dataset a one-machine run makes
    pictures     PNG grids and GIFs of frames (`jumpdata show`, `jumpdata sample`)

The names below are exported lazily (on first use), so `import scene_shards.common`
does not pull in h5py or numpy:

    from scene_shards import open_dataset
    ds = open_dataset("shards/", dataset="salesman", split="train")
"""

from importlib import import_module

_EXPORTS = {
    "UserError": "common", "package_version": "common",
    "GeneratorSpec": "generation", "default_test_scenes": "generation", "default_workers": "generation",
    "generate_dataset": "generation",
    "SPLITS": "manifest", "SPLIT_ID": "manifest", "list_datasets": "manifest", "resolve_dataset": "manifest",
    "ShardDataset": "reader", "open_dataset": "reader",
    "summarize_folder": "verify", "verify_dataset": "verify",
    "data_fingerprint": "fingerprint", "fingerprint_differences": "fingerprint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scene_shards' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
