"""The one exception type that means "the user asked for something that cannot be done"."""


class UserError(Exception):
    """Bad input or a damaged dataset; the message is one line meant for the user.

    The command line prints the message on standard error and exits non-zero,
    without a traceback. Library code raises it; it never exits the process.
    """
