"""Stage 1, ingest: the library read from its source (sources/) and landed in raw.* (landing_assets)."""
