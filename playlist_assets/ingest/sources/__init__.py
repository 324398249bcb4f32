"""Where a library comes from. Every source returns a `RawLibrary` (see `library.py`)."""
