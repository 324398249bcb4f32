"""playlist-assets: groups of similar songs inside every playlist of a music library."""

__version__ = "0.1.0"
