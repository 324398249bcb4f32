"""A module that uses the standard `wave` module if it can import it, as scikit-learn imports
pandas whenever it is installed."""

try:
    import wave
except ImportError:
    wave = None
