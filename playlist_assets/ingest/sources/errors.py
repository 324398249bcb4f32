"""The one error a source raises for input the user supplied and can fix."""

from __future__ import annotations


class SourceError(ValueError):
    """An export file or folder cannot be read.

    The message is one sentence that names the input and says what to do, so the CLI and the
    Dagster run can show it as is instead of a traceback. A source that raises it has returned
    nothing: no partial library is ever written.
    """
