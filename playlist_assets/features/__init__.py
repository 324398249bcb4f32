"""Stage 2, features: the model-ready feature table (feature_table) and each playlist's version (snapshot_assets)."""
