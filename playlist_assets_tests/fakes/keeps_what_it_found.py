"""Keeps what sys.modules held for `wave` when it was imported, as polars keeps what it found
for pandas (see optional_import)."""

import sys

FOUND = sys.modules.get("wave", "not imported")
