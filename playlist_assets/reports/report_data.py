"""Warehouse rows -> the plain report data the renderers take (`model.py`)."""

from __future__ import annotations

import polars as pl

from playlist_assets.clustering.kmeans import (
    STABILITY_SUBSAMPLES,
    SUBSAMPLE_SHARE,
    WEAK_SILHOUETTE,
    WEAK_STABILITY,
)
from playlist_assets.clustering.describe import REST
from playlist_assets.warehouse.queries import ReportInputs
from playlist_assets.reports import track_lists
from playlist_assets.reports.model import (
    ArtistCredit,
    ClusterSection,
    NotClustered,
    PlaylistReport,
    SavedPlaylistLink,
    ScatterInput,
    ScatterPoint,
    TrackRow,
)
from playlist_assets.warehouse.tables import FEATURE_SET_VERSION

REPRESENTATIVES = 10
OVERLAP = "These groups overlap: treat them as tendencies, not boundaries."


def _track_rows(members: list[dict], has_score: bool) -> tuple[TrackRow, ...]:
    rows = []
    for m in members:
        names = m["artist_names"] or []
        ids = m["artist_ids"] or [None] * len(names)
        rows.append(
            TrackRow(
                track_id=m["track_id"],
                name=m["name"] or "",
                album=m["album"],
                image_url=m["image_url"],
                artists=tuple(ArtistCredit(n or "", i) for n, i in zip(names, ids)),
                label=m["label"],
                score=(m["score"] or 0) if has_score else None,
                liked=bool(m["liked"]),
                distance_to_centre=m["distance_to_centre"],
            )
        )
    return tuple(rows)


def _not_clustered_rows(rows: pl.DataFrame) -> tuple[NotClustered, ...]:
    return tuple(
        NotClustered(
            name=r["shown_name"], artists=r["shown_artists"], reason=r["reason"], count=r["count"], liked=r["liked"]
        )
        for r in rows.iter_rows(named=True)
    )


def _grouped_leftovers(unclustered: pl.DataFrame, details: pl.DataFrame) -> pl.DataFrame:
    """Unclustered entries named and grouped (same name, artists and reason: one row with a count)."""
    return (
        unclustered.join(details.select("track_id", "name", "artist_names", "liked"), on="track_id", how="left")
        .with_columns(
            pl.coalesce("name", "item_name", pl.lit("(no name)")).alias("shown_name"),
            # A track's credits; else what the source says the entry is by (an episode's show).
            pl.coalesce(pl.col("artist_names").list.join(", "), "item_artists").alias("shown_artists"),
        )
        .group_by("playlist_id", "shown_name", "shown_artists", "reason")
        .agg(
            pl.len().alias("count"),
            pl.col("position").min().alias("first"),
            pl.col("liked").fill_null(False).any().alias("liked"),
        )
        .sort("playlist_id", "first")
    )


def build_reports(
    inputs: ReportInputs, slugs: dict[str, str], code_version: str, with_scatter: bool = True
) -> list[tuple[PlaylistReport, ScatterInput | None]]:
    """One (report, scatter) per playlist in `inputs`; scatter is None when not clustered, or
    when not wanted (`with_scatter`: the Markdown alone needs no plot points)."""
    # Whole-library frames split once, so the per-playlist loop below only assembles dataclasses.
    # Sorted and narrowed before splitting: a polars call on each playlist's small frame costs
    # more than the work it does (~0.1 ms), and there are thousands of them in a large library.
    points = inputs.memberships.sort("playlist_id", "cluster", "distance_to_centre", "track_id")
    points_by_playlist = points.select("playlist_id", "x", "y", "cluster").partition_by(
        "playlist_id", as_dict=True, include_key=False
    )
    # Every track of every cluster is named: the nearest in the seed's table, the rest after it.
    members = points.join(inputs.track_details, on="track_id", how="left").sort(
        "playlist_id", "cluster", "distance_to_centre", "track_id"
    )
    members_by_cluster: dict[tuple[str, int], list[dict]] = {}
    for row in members.iter_rows(named=True):
        members_by_cluster.setdefault((row["playlist_id"], row["cluster"]), []).append(row)
    clusters_by_playlist = inputs.clusters.sort("playlist_id", "cluster").partition_by("playlist_id", as_dict=True)
    leftovers = _grouped_leftovers(inputs.unclustered, inputs.track_details)
    leftovers_by_playlist = leftovers.partition_by("playlist_id", as_dict=True)
    clusterings = {r["playlist_id"]: r for r in inputs.clusterings.iter_rows(named=True)}
    no_clusters, no_leftovers = inputs.clusters.clear(), leftovers.clear()
    saved = {
        (r["playlist_id"], r["cluster"]): r
        for r in (inputs.saved.iter_rows(named=True) if inputs.saved is not None else ())
    }

    out = []
    for playlist in inputs.playlists.sort("playlist_id").iter_rows(named=True):
        pid = playlist["playlist_id"]
        summary = clusterings.get(pid)
        if summary is None:
            continue  # not clustered yet: nothing to report on
        own_points = points_by_playlist.get((pid,))
        own_clusters = clusters_by_playlist.get((pid,), no_clusters)
        sections = []
        for c in own_clusters.iter_rows(named=True):
            in_cluster = members_by_cluster.get((pid, c["cluster"]), [])
            has_uris = bool(track_lists.track_uris(m["track_id"] for m in in_cluster))
            sections.append(
                ClusterSection(
                    number=c["cluster"],
                    size=c["size"],
                    description=c["description"] or "",
                    representatives=_track_rows(in_cluster[:REPRESENTATIVES], inputs.has_score),
                    others=_track_rows(in_cluster[REPRESENTATIVES:], inputs.has_score),
                    tracks_file=track_lists.file_name(c["cluster"]) if has_uris else None,
                    saved=_saved_link(saved.get((pid, c["cluster"])), summary["snapshot_id"]),
                )
            )
        report = PlaylistReport(
            playlist_id=pid,
            name=playlist["name"] or "",
            slug=slugs[pid],
            has_score=inputs.has_score,
            clusters=tuple(sections),
            not_clustered=_not_clustered_rows(leftovers_by_playlist.get((pid,), no_leftovers)),
            unclustered_reason=None if summary["clustered"] else summary["reason"],
            x_label=summary["x_label"] or "",
            y_label=summary["y_label"] or "",
            caveat=_caveat(summary),
            provenance=_provenance(playlist, summary, code_version),
        )
        scatter = None
        if summary["clustered"] and with_scatter:
            scatter = ScatterInput(
                title=report.name,
                x_label=report.x_label,
                y_label=report.y_label,
                points=tuple(ScatterPoint(x, y, k) for x, y, k in own_points.iter_rows())
                if own_points is not None
                else (),
                legend={s.number: f"Cluster #{s.number}: {legend_words(s.description)}" for s in sections},
            )
        out.append((report, scatter))
    return out


def _saved_link(row: dict | None, clustered_snapshot: str | None) -> SavedPlaylistLink | None:
    if row is None or not row["spotify_playlist_id"]:
        return None
    current = row["snapshot_id"] == clustered_snapshot
    return SavedPlaylistLink(row["name"] or "", row["spotify_playlist_id"], current)


def legend_words(description: str) -> str:
    """The head of a description, for the plot's legend: "Calm, acoustic" of "Calm, acoustic;
    slower than the rest of this playlist". The report says the rest; in the plot, every glyph
    costs drawing time and legend room."""
    head = description.split(";")[0]
    return head.removesuffix(f" {REST}")


def _caveat(summary: dict) -> str | None:
    """The plain sentence for groups that are not clearly separated (weak or unstable)."""
    if not summary["clustered"]:
        return None
    weak = summary["silhouette"] is not None and summary["silhouette"] < WEAK_SILHOUETTE
    shaky = summary.get("stability") is not None and summary["stability"] < WEAK_STABILITY
    return OVERLAP if weak or shaky else None


def _provenance(playlist: dict, summary: dict, code_version: str) -> tuple[tuple[str, str], ...]:
    features = "none"
    if summary["clustered"]:
        features = f"{summary['feature_set']}: {', '.join(summary['feature_columns'])}"
        if summary["feature_providers"]:
            features += f" (provider: {summary['feature_providers']})"
    pairs = [
        ("Playlist snapshot", playlist["snapshot_id"] or "unknown"),
        ("Source", playlist["source"] or "unknown"),
        ("Features", features),
        ("Feature table", FEATURE_SET_VERSION),
        ("Tracks", f"{summary['n_clustered']} of {summary['n_tracks']} distinct tracks clustered"),
    ]
    if summary["clustered"]:
        clusters = f"k = {summary['k']}, silhouette {summary['silhouette']:.3f}"
        if summary.get("stability") is not None:
            clusters += (
                f", stability {summary['stability']:.2f} (agreement with the clusters of "
                f"{STABILITY_SUBSAMPLES} subsamples of {SUBSAMPLE_SHARE:.0%} of the tracks, adjusted "
                "Rand index: 1 = always the same groups)"
            )
        pairs.append(("Clusters", clusters))
    pairs.append(("Code version", code_version))
    return tuple(pairs)
