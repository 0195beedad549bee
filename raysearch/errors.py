"""Errors that are the user's to fix: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A mistake in user input (a file, key or value): reported without a traceback."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss; ends the trial that raised it, never the search."""
