"""The `save_clusters_to_spotify` job: chosen clusters become playlists in the user's Spotify account.

An op job, not an asset: it writes to Spotify only when someone launches it with a config
naming the playlists, and no sensor or schedule ever requests it.
"""

import os

import dagster as dg
from pydantic import Field

from playlist_assets.reports import saved_clusters
from playlist_assets.partitions import WAREHOUSE_POOL
from playlist_assets.runtime.resources import WarehouseResource
from playlist_assets.ingest.sources.spotify_api import SpotifyConfig
from playlist_assets.ingest.sources.spotify_http import SpotifyError


class SaveClustersConfig(dg.Config):
    playlists: list[str] = Field(
        description="The playlists whose clusters to save, each by its id or its name (exact, or the one "
        "name that matches ignoring case)."
    )
    clusters: list[int] = Field(
        default_factory=list,
        description="Cluster numbers to save, as in the reports' '## Cluster #N'; empty saves every cluster.",
    )
    public: bool = Field(default=False, description="Make the saved playlists public; they are private by default.")
    dry_run: bool = Field(
        default=False, description="Only say what would be created or updated; nothing is sent to Spotify."
    )


@dg.op(pool=WAREHOUSE_POOL)  # it records each save in the warehouse
def save_clusters(
    context: dg.OpExecutionContext, config: SaveClustersConfig, warehouse_db: WarehouseResource
) -> dg.Output:
    """Save each chosen cluster as a playlist named '<playlist> · Cluster #N: <description>', its
    tracks in the report's order; a cluster saved before has its playlist updated instead."""
    try:
        with warehouse_db.connect(read_only=config.dry_run) as conn:
            plans = saved_clusters.plan(conn, config.playlists, config.clusters, config.public)
            if config.dry_run:
                lines = [plan.preview() for plan in plans] + ["Dry run: nothing was sent to Spotify."]
                for line in lines:
                    context.log.info(line)
            else:
                spotify = SpotifyConfig.from_env(os.environ)
                results = saved_clusters.save(conn, plans, spotify, log=context.log.info)
                lines = [result.line() for result in results]
    except (SpotifyError, ValueError) as error:  # SaveRequestError is a ValueError, as are bad settings
        raise dg.Failure(description=str(error)) from None
    # Plain text: the lines hold playlist names, which Markdown would interpret.
    return dg.Output(len(plans), metadata={"clusters": len(plans), "saved": dg.MetadataValue.text("\n".join(lines))})


@dg.job(
    name="save_clusters_to_spotify",
    description="Save chosen clusters as playlists in your Spotify account (private unless `public`); saving "
    "a cluster again updates its playlist. Needs `playlist-assets login --save` first.",
)
def save_clusters_to_spotify():
    save_clusters()
