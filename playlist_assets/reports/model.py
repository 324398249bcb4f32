"""What a report is made of: plain data handed from the pipeline to the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArtistCredit:
    name: str
    artist_id: str | None  # None: no Spotify page to link to (e.g. a local file's artist)


@dataclass(frozen=True)
class TrackRow:
    """One row of a cluster's table, in the seed reports' column order."""

    track_id: str
    name: str
    album: str | None
    image_url: str | None
    artists: tuple[ArtistCredit, ...]
    label: str | None
    score: int | None  # None when the source has no listening data
    liked: bool
    distance_to_centre: float


@dataclass(frozen=True)
class SavedPlaylistLink:
    """The playlist in the user's Spotify account that holds a cluster (analytics.saved_clusters)."""

    name: str
    spotify_playlist_id: str
    current: bool  # saved from the clustering the report shows (False: from an earlier snapshot)


@dataclass(frozen=True)
class ClusterSection:
    number: int  # 1-based, as in "## Cluster #1"
    size: int
    description: str  # "Energetic, danceable, happy"
    representatives: tuple[TrackRow, ...]  # up to 10, nearest the centre first
    others: tuple[TrackRow, ...] = ()  # the rest of the cluster's tracks, nearest first
    # The cluster's track list next to the report (cluster_<N>_tracks.txt); None when no track
    # has a Spotify ID. Its writer must write it before the report that links to it.
    tracks_file: str | None = None
    saved: SavedPlaylistLink | None = None  # set once `playlist-assets save-clusters` saved it


@dataclass(frozen=True)
class NotClustered:
    name: str
    artists: str | None
    reason: str  # "no audio features", "local file", "podcast episode", "removed", ...
    count: int = 1  # how many entries share this name and reason
    liked: bool = False  # in the user's Liked Songs (the 💚 column)


@dataclass(frozen=True)
class PlaylistReport:
    playlist_id: str
    name: str
    slug: str
    has_score: bool  # True when the library has listening data: adds the Score column
    clusters: tuple[ClusterSection, ...]
    not_clustered: tuple[NotClustered, ...]
    # Set when the playlist could not be clustered at all (e.g. fewer than 6 tracks with features).
    unclustered_reason: str | None
    x_label: str
    y_label: str
    # A sentence near the top when the groups are not clearly separated (None when they are).
    caveat: str | None = None
    # Ordered (label, value) pairs printed in the Provenance section: snapshot, features, code...
    provenance: tuple[tuple[str, str], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ScatterPoint:
    x: float
    y: float
    cluster: int


@dataclass(frozen=True)
class ScatterInput:
    title: str  # the playlist name
    x_label: str
    y_label: str
    points: tuple[ScatterPoint, ...]
    legend: dict[int, str]  # cluster number -> "Cluster #1: Energetic, danceable"


@dataclass(frozen=True)
class RefusedFile:
    """An input file the landing left out, listed under the index's playlists."""

    file: str
    reason: str  # one sentence naming the file, what was wrong and the fix


@dataclass(frozen=True)
class IndexEntry:
    """One playlist's line in reports/README.md, whether or not it got a report."""

    name: str
    slug: str
    n_tracks: int  # tracks in the playlist
    n_clustered: int  # tracks that went into the clustering (0 when not clustered)
    k: int | None  # number of clusters; None or 0 when the playlist was not clustered
    has_report: bool  # overview.md exists, so the index may link to it
    reason: str | None = None  # why there are no clusters: "empty playlist", "fewer than 6 ..."
    has_image: bool = False  # the scatter PNG exists (informational; the index links reports)
    playlist_id: str = ""  # orders playlists that share name and slug (cannot happen in practice)
    has_track_features: bool = False  # track_features.md exists, so the index may link to it
