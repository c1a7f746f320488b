"""What every part of jumpdata shares, with no heavy imports (standard library only).

`UserError` is the one exception type that means "the user asked for something
that cannot be done"; `package_version()` is the installed version. Importing
this module loads neither numpy, h5py nor torch, so the command line can catch
`UserError` without paying for them.
"""


class UserError(Exception):
    """Bad input or a damaged dataset; the message is one line meant for the user.

    The command line prints the message on standard error and exits non-zero,
    without a traceback. Library code raises it; it never exits the process.
    """


def package_version() -> str:
    """Return the installed jumpdata version string (from the package metadata), "0+unknown" when not installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("jumpdata")
    except PackageNotFoundError:
        return "0+unknown"
