"""Modules that look for the standard `wave` module as they are imported: the first uses it if
it can import it (as scikit-learn imports pandas whenever it is installed), the second keeps
whatever sys.modules held for it (as polars does for pandas)."""

try:
    import wave
except ImportError:
    wave = None
