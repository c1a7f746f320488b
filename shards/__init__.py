"""The HDF5 scene-shard format: writer, reader, manifest, verification and the generation driver."""

from .driver import GeneratorSpec, default_test_scenes, default_workers, generate_dataset
from .errors import UserError
from .manifest import SPLIT_ID, SPLITS, list_datasets, resolve_dataset
from .reader import ShardDataset, open_dataset
from .verify import summarize_folder, verify_dataset


def package_version() -> str:
    """Return the installed jumpdata version string (from the package metadata)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("jumpdata")
    except PackageNotFoundError:
        return "0+unknown"


__all__ = ["GeneratorSpec", "ShardDataset", "SPLITS", "SPLIT_ID", "UserError", "default_test_scenes",
           "default_workers", "generate_dataset", "list_datasets", "open_dataset", "package_version",
           "resolve_dataset", "summarize_folder", "verify_dataset"]
