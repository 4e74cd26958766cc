"""The errors prodmatch raises for bad input -- data files, arguments, paths -- as opposed to bugs.

The command line prints an :class:`InputError` as ``error: <message>`` and exits with status 2
(``--debug`` shows the traceback); any other exception is a bug and keeps its traceback. Each class also
derives from the built-in error it replaces, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class InputError(Exception):
    """Input that prodmatch refuses, with a message that says what and where."""


class ArgumentError(InputError, ValueError):
    """A command-line argument or option value that cannot work."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or folder the command needs does not exist."""


class OutputPathError(InputError, OSError):
    """An output path that cannot or must not be written (an input file, a folder, a device, a full disk)."""


class OutputExistsError(InputError, FileExistsError):
    """An output that exists and is not replaced without being asked to."""


class ConfigError(InputError, ValueError):
    """A config file a user writes (a recipe, a training YAML) with an unknown key or a value that cannot work."""


class CorruptFileError(InputError, ValueError):
    """A file prodmatch wrote earlier (a model, an embedding file, a CV folder) that cannot be read back:
    truncated, overwritten, or of another format. The message names the file and how to make it again."""
