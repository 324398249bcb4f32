"""The persistent Dagster instance folder shared by the command line and `make dev`."""

from __future__ import annotations

from pathlib import Path

# Writers of the DuckDB file share a pool of one slot (see assets/partitions.WAREHOUSE_POOL),
# so runs launched side by side from the UI take turns instead of failing on the file lock.
DAGSTER_YAML = """\
# Written by playlist-assets; edit freely, it is not overwritten.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def prepare_instance_folder(dagster_home: Path) -> Path:
    """Create the folder and its dagster.yaml if missing."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return dagster_home
