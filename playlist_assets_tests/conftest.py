"""Shared fixtures: a whole demo graph materialized once on temporary folders."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from playlist_assets.runtime.settings import Settings

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def make_settings(root: Path, **overrides) -> Settings:
    return Settings.from_env(
        env={},
        warehouse=str(root / "warehouse" / "playlists.duckdb"),
        reports=str(root / "reports"),
        dagster_home=str(root / "dagster_home"),
        **overrides,
    )


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """The default demo library materialized end to end: (settings, instance, summary)."""
    from playlist_assets.runtime.pipeline import materialize_everything

    root = tmp_path_factory.mktemp("demo")
    settings = make_settings(root)
    instance = dg.DagsterInstance.ephemeral()
    summary = materialize_everything(settings, echo=lambda line: None, instance=instance)
    return settings, instance, summary
