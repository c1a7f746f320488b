"""What every part of jumpdata shares, with no heavy imports (standard library only).

`UserError` is the one exception type that means "the user asked for something
that cannot be done"; `package_version()` is the installed version. Importing
this module loads neither numpy, h5py nor torch, so the command line can catch
`UserError` without paying for them.
"""


MAX_WORKERS = 256   # most generator worker processes (checked by the driver, offered by the command line)


class UserError(Exception):
    """Bad input or a damaged dataset; the message is one line meant for the user.

    The command line prints the message on standard error and exits non-zero,
    without a traceback. Library code raises it; it never exits the process.
    """


class Note(UserWarning):
    """A remark for the user about a command that goes on (e.g. an older run compared on fewer facts): raised
    with warnings.warn, shown by the command line after the command succeeds as one line "jumpdata: note: ..."."""


def package_version() -> str:
    """Return the installed jumpdata version string (from the package metadata), "0+unknown" when not installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("jumpdata")
    except PackageNotFoundError:
        return "0+unknown"


#: Where torch puts the traceback of an error it re-raises from a DataLoader worker process.
_WORKER_TRACEBACK = "Original Traceback (most recent call last):"


def one_line(error: BaseException) -> str:
    """Return the message of `error` as one line for the user: whitespace (newlines included) squeezed to single
    spaces; for an error re-raised from a torch DataLoader worker (whose message is "Caught X in DataLoader worker
    process N. Original Traceback ..."), the message of the original error only; the type name when empty."""
    text = str(error)
    if _WORKER_TRACEBACK in text:
        last = text.rstrip().splitlines()[-1]   # "package.module.ErrorType: the original message"
        text = last.split(": ", 1)[1] if ": " in last else last
    return " ".join(text.split()) or type(error).__name__
