"""The warehouse contract: every table's columns, types, key and meaning, in one place.

The DDL, the Dagster column metadata and the documentation all read from here, so a column
is added once and appears everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    # Column that splits the table into playlist partitions; None for whole-table writes.
    partition_column: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def empty_frame(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema)

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Select and cast `frame` to this table's columns, in order; missing columns are null."""
        exprs = [
            (pl.col(c.name) if c.name in frame.columns else pl.lit(None)).cast(c.dtype).alias(c.name)
            for c in self.columns
        ]
        return frame.select(exprs)


UTC_TIME = pl.Datetime("us", "UTC")
F = pl.Float64
S = pl.String
I32 = pl.Int32
I64 = pl.Int64
B = pl.Boolean

AUDIO_FEATURE_COLUMNS: tuple[Column, ...] = (
    Column("danceability", F, "0-1: how suitable for dancing (tempo, rhythm stability, beat strength)."),
    Column("energy", F, "0-1: perceived intensity and activity."),
    Column("key", I32, "Pitch class of the key, 0 = C ... 11 = B; -1 when none was detected."),
    Column("loudness", F, "Average loudness in decibels (dB), typically -60 to 0."),
    Column("mode", I32, "1 = major, 0 = minor."),
    Column("speechiness", F, "0-1: presence of spoken words."),
    Column("acousticness", F, "0-1: confidence the track is acoustic."),
    Column("instrumentalness", F, "0-1: confidence the track has no vocals."),
    Column("liveness", F, "0-1: probability an audience is audible."),
    Column("valence", F, "0-1: musical positiveness (high = happy, low = sad)."),
    Column("tempo", F, "Estimated tempo in beats per minute (BPM)."),
    Column("time_signature", I32, "Estimated beats per bar, 3 to 7."),
)

RAW_PLAYLISTS = Table(
    "raw", "playlists", "One row per playlist of the library, as the source last described it.",
    (
        Column("playlist_id", S, "Stable playlist key: the Spotify ID, or one derived from the source.", False),
        Column("name", S, "Playlist name as the owner wrote it."),
        Column("description", S, "Playlist description (may contain HTML entities)."),
        Column("owner_id", S, "Owner's user ID."),
        Column("owner_name", S, "Owner's display name."),
        Column("is_collaborative", B, "True when others may edit the playlist."),
        Column("snapshot_id", S, "The source's version of the playlist; changes whenever its entries change."),
        Column("n_entries", I32, "Number of entries (tracks, episodes, local files, removed)."),
        Column("source", S, "Where the library came from: demo, spotify, account-export or exportify."),
        Column("skipped_reason", S, "Why the entries could not be read (null when they were)."),
        Column("fetched_at", UTC_TIME, "When the playlist's entries were last read (UTC); unchanged playlists keep theirs."),
    ),
    ("playlist_id",),
)

RAW_PLAYLIST_TRACKS = Table(
    "raw", "playlist_tracks", "One row per playlist entry, in playlist order; nothing is dropped.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists).", False),
        Column("position", I32, "0-based position in the playlist.", False),
        Column("item_kind", S, "track, episode, local (a local file) or removed (the entry is empty)."),
        Column("track_id", S, "Spotify track ID (raw.tracks) for kind = track; null otherwise."),
        Column("item_uri", S, "The entry's URI as the source gave it (spotify:track:..., spotify:local:...)."),
        Column("item_name", S, "The entry's name, kept for entries that are not tracks."),
        Column(
            "item_artists", S,
            "Who an entry that is not a track is by, when the source says: an episode's show, a local "
            "file's artist (a track's artists are in raw.track_artists).",
        ),
        Column("is_duplicate", B, "True from the second occurrence of the same track in this playlist."),
        Column("is_playable", B, "False when the source marks the track unavailable; null when unknown."),
        Column("added_at", UTC_TIME, "When the entry was added (UTC), when the source says."),
        Column("added_by", S, "User ID of who added it, when the source says."),
    ),
    ("playlist_id", "position"),
)

RAW_TRACKS = Table(
    "raw", "tracks", "One row per distinct track referenced by any playlist, liked list or top list.",
    (
        Column("track_id", S, "Spotify track ID.", False),
        Column("name", S, "Track name."),
        Column("album_id", S, "Album key (raw.albums)."),
        Column("duration_ms", I64, "Duration in milliseconds."),
        Column("explicit", B, "True when the track has explicit lyrics."),
        Column("popularity", I32, "Spotify popularity 0-100; null when the source does not say."),
        Column("isrc", S, "International Standard Recording Code, when known."),
        Column("uri", S, "spotify:track:<id>."),
    ),
    ("track_id",),
)

RAW_TRACK_ARTISTS = Table(
    "raw", "track_artists", "Credited artists of each track, in credit order.",
    (
        Column("track_id", S, "Track key (raw.tracks).", False),
        Column("position", I32, "0-based credit order.", False),
        Column("artist_id", S, "Artist key (raw.artists)."),
    ),
    ("track_id", "position"),
)

RAW_ALBUMS = Table(
    "raw", "albums", "One row per album.",
    (
        Column("album_id", S, "Spotify album ID.", False),
        Column("name", S, "Album name."),
        Column("album_type", S, "album, single or compilation."),
        Column("release_date", S, "Release date as given: YYYY, YYYY-MM or YYYY-MM-DD."),
        Column("release_date_precision", S, "year, month or day."),
        Column("label", S, "Record label(s); null when the source does not say."),
        Column("image_url", S, "Cover art URL (the largest image), when known."),
        Column("fetched_at", UTC_TIME, "When the album was last read from the source (UTC); drives re-reads."),
    ),
    ("album_id",),
)

RAW_ARTISTS = Table(
    "raw", "artists", "One row per artist.",
    (
        Column("artist_id", S, "Spotify artist ID.", False),
        Column("name", S, "Artist name."),
        Column("genres", pl.List(S), "Genres Spotify associates with the artist (may be empty)."),
        Column("popularity", I32, "Spotify popularity 0-100; null when unknown."),
        Column("fetched_at", UTC_TIME, "When the artist was last read from the source (UTC); drives re-reads."),
    ),
    ("artist_id",),
)

RAW_AUDIO_FEATURES = Table(
    "raw", "audio_features", "Audio features per track, from the first provider that had them.",
    (
        Column("track_id", S, "Track key (raw.tracks).", False),
        *AUDIO_FEATURE_COLUMNS,
        Column("provider", S, "Who supplied the row: demo, spotify, reccobeats or a file name."),
    ),
    ("track_id",),
)

RAW_LIKED_TRACKS = Table(
    "raw", "liked_tracks", "The user's Liked Songs (the 💚 column of the reports).",
    (
        Column("track_id", S, "Track key (raw.tracks).", False),
        Column("added_at", UTC_TIME, "When the track was liked (UTC)."),
    ),
    ("track_id",),
)

RAW_LISTENING = Table(
    "raw", "listening", "How much the user listens to a track (the Score column of the reports).",
    (
        Column("track_id", S, "Track key (raw.tracks).", False),
        Column("score", I64, "Listening score; see README 'The Score' for the formula of each source."),
        Column("short_term_rank", I32, "1-based rank in the user's top tracks, last 4 weeks."),
        Column("medium_term_rank", I32, "1-based rank in the user's top tracks, last 6 months."),
        Column("long_term_rank", I32, "1-based rank in the user's top tracks, last year or so."),
        Column("play_count", I64, "Plays counted from a streaming history, when the source has one."),
        Column("ms_played", I64, "Milliseconds played from a streaming history, when the source has one."),
    ),
    ("track_id",),
)

RAW_REFUSED_FILES = Table(
    "raw", "refused_files",
    "Input files the last landing left out, each with why; the rest of the library landed without them.",
    (
        Column("file", S, "The refused file's name (in the folder the source reads).", False),
        Column(
            "reason", S,
            "One sentence: what in the file was refused (which column, which value, what was expected) "
            "and how to fix it.",
        ),
        Column("fetched_at", UTC_TIME, "When the landing that left it out read the source (UTC)."),
    ),
    ("file",),
)

RAW_TABLES: tuple[Table, ...] = (
    RAW_PLAYLISTS,
    RAW_PLAYLIST_TRACKS,
    RAW_TRACKS,
    RAW_TRACK_ARTISTS,
    RAW_ALBUMS,
    RAW_ARTISTS,
    RAW_AUDIO_FEATURES,
    RAW_LIKED_TRACKS,
    RAW_LISTENING,
    RAW_REFUSED_FILES,
)

# Bumped whenever the meaning of a feature column changes; recorded with every report.
FEATURE_SET_VERSION = "track-features-v1"

FEATURES_TRACK_FEATURES = Table(
    "features", "track_features",
    "One model-ready row per track: audio features where a provider had them, plus metadata.",
    (
        Column("track_id", S, "Track key (raw.tracks).", False),
        *AUDIO_FEATURE_COLUMNS,
        Column("release_year", I32, "Year of the album's release."),
        Column("duration_min", F, "Duration in minutes."),
        Column("explicit", B, "True when the track has explicit lyrics."),
        Column("popularity", I32, "Spotify popularity 0-100, when known."),
        Column("has_audio_features", B, "True when some provider supplied audio features."),
        Column("feature_provider", S, "Who supplied the audio features (null when none did)."),
        Column("feature_set", S, f"Version of this table's definitions ({FEATURE_SET_VERSION})."),
    ),
    ("track_id",),
)

ANALYTICS_PLAYLIST_CLUSTERS = Table(
    "analytics", "playlist_clusters",
    "Cluster membership: one row per distinct clustered track of each playlist.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists).", False),
        Column("track_id", S, "Track key (raw.tracks).", False),
        Column("cluster", I32, "1-based cluster number, as in the report's '## Cluster #N'."),
        Column("distance_to_centre", F, "Euclidean distance to the cluster centre, in standardised units."),
        Column("x", F, "Scatter x: first principal component (see playlist_clusterings.x_label)."),
        Column("y", F, "Scatter y: second principal component (see playlist_clusterings.y_label)."),
    ),
    ("playlist_id", "track_id"),
    partition_column="playlist_id",
)

ANALYTICS_CLUSTERS = Table(
    "analytics", "clusters", "One row per cluster of each playlist.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists).", False),
        Column("cluster", I32, "1-based cluster number.", False),
        Column("size", I32, "Number of tracks in the cluster."),
        Column("description", S, "The 2-3 features that set the cluster apart, as adjectives."),
        Column("centroid", S, "JSON object: feature -> centre in standardised (z-score) units."),
    ),
    ("playlist_id", "cluster"),
    partition_column="playlist_id",
)

ANALYTICS_PLAYLIST_CLUSTERINGS = Table(
    "analytics", "playlist_clusterings",
    "One row per playlist: how it was clustered, or why it was not.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists).", False),
        Column("snapshot_id", S, "The playlist snapshot that was clustered."),
        Column("clustered", B, "True when clusters were formed."),
        Column("reason", S, "Why no clusters were formed (null when clustered)."),
        Column("feature_set", S, "audio (audio features) or metadata (release year, duration, ...)."),
        Column("feature_columns", pl.List(S), "Feature columns actually used (constant ones dropped)."),
        Column("feature_providers", S, "Providers of the audio features used, comma-separated."),
        Column("k", I32, "Number of clusters (0 when not clustered)."),
        Column("silhouette", F, "Silhouette score of the chosen clustering (-1 to 1; higher is better)."),
        Column(
            "stability", F,
            "How solid the clusters are: mean adjusted Rand index between them and the clusterings of "
            "10 subsamples of 80% of the tracks (1 = the same groups every time; near 0 = chance).",
        ),
        Column("x_label", S, "What the scatter's x axis means: top 3 loadings with their sign."),
        Column("y_label", S, "What the scatter's y axis means."),
        Column("n_entries", I32, "Playlist entries, all kinds."),
        Column("n_tracks", I32, "Distinct tracks among the entries."),
        Column("n_clustered", I32, "Distinct tracks placed in a cluster."),
    ),
    ("playlist_id",),
    partition_column="playlist_id",
)

ANALYTICS_CLUSTER_REPORTS = Table(
    "analytics", "cluster_reports",
    "Lineage of every playlist report: which snapshot, features, code and run produced it.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists).", False),
        Column("playlist_name", S, "Playlist name when the report was written."),
        Column("slug", S, "Folder name of the report."),
        Column("report_path", S, "Markdown path, relative to the reports folder."),
        Column("image_path", S, "PNG path, relative to the reports folder (null when not clustered)."),
        Column("report_sha256", S, "SHA-256 of the Markdown file."),
        Column("image_sha256", S, "SHA-256 of the PNG file."),
        Column("features_page_path", S, "Track Features page (Markdown) path, relative to the reports folder."),
        Column("features_page_sha256", S, "SHA-256 of the Track Features page."),
        Column(
            "features_image_path", S,
            "Track Features histograms (PNG) path, relative to the reports folder (null when there is nothing to plot).",
        ),
        Column("features_image_sha256", S, "SHA-256 of the Track Features PNG."),
        Column("snapshot_id", S, "Playlist snapshot the report describes."),
        Column(
            "playlist_version", S,
            "Data version of the playlist's contents (features/playlist_snapshots) the report describes.",
        ),
        Column("source", S, "Where the library came from."),
        Column("feature_set", S, "Feature table version and the set used (audio or metadata)."),
        Column("feature_providers", S, "Providers of the audio features used."),
        Column("code_version", S, "Package version and the report assets' code versions."),
        Column("run_id", S, "Dagster run that wrote the report."),
        Column("k", I32, "Number of clusters."),
        Column("silhouette", F, "Silhouette score of the clustering."),
        Column("stability", F, "Stability of the clustering (analytics.playlist_clusterings.stability)."),
        Column("n_tracks", I32, "Distinct tracks in the playlist."),
        Column("n_clustered", I32, "Distinct tracks placed in a cluster."),
        Column("materialized_at", UTC_TIME, "When the report was written (UTC)."),
    ),
    ("playlist_id",),
    partition_column="playlist_id",
)

ANALYTICS_UNCLUSTERED_ENTRIES = Table(
    "analytics", "unclustered_entries",
    "Every playlist entry that is in no cluster, with the reason; with playlist_clusters it accounts for every entry.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists).", False),
        Column("position", I32, "Position of the entry (raw.playlist_tracks).", False),
        Column("item_kind", S, "track, episode, local or removed."),
        Column("track_id", S, "Track key, for kind = track."),
        Column("item_name", S, "The entry's name as the source gave it."),
        Column("item_artists", S, "Who an entry that is not a track is by: an episode's show, a local file's artist."),
        Column("reason", S, "Why it is in no cluster: no audio features, local file, podcast episode, ..."),
    ),
    ("playlist_id", "position"),
    partition_column="playlist_id",
)

ANALYTICS_TABLES: tuple[Table, ...] = (
    ANALYTICS_PLAYLIST_CLUSTERS,
    ANALYTICS_CLUSTERS,
    ANALYTICS_PLAYLIST_CLUSTERINGS,
    ANALYTICS_UNCLUSTERED_ENTRIES,
    ANALYTICS_CLUSTER_REPORTS,
)

# Not partitioned and not in ANALYTICS_TABLES: rebuilding a playlist (or dropping one that left
# the library) replaces those tables' rows, and must never forget a playlist that exists in the
# user's Spotify account, or the next save would make it a second time.
ANALYTICS_SAVED_CLUSTERS = Table(
    "analytics", "saved_clusters",
    "Which Spotify playlist holds which cluster: written by `playlist-assets save-clusters` and the "
    "save_clusters_to_spotify job; saving a cluster again updates the playlist named here.",
    (
        Column("playlist_id", S, "Playlist key (raw.playlists) of the cluster's playlist.", False),
        Column("cluster", I32, "1-based cluster number, as in the report's '## Cluster #N'.", False),
        Column("snapshot_id", S, "The playlist snapshot whose clustering was saved."),
        Column("spotify_playlist_id", S, "Spotify ID of the playlist holding the cluster's tracks."),
        Column("spotify_url", S, "Its address on open.spotify.com."),
        Column("name", S, "Its name as saved: '<playlist> · Cluster #N: <description>', at most 100 characters."),
        Column("public", B, "True when it was saved public; private is the default."),
        Column("n_tracks", I32, "Tracks saved, in the report's order."),
        Column("saved_at", UTC_TIME, "When it was last saved (UTC)."),
    ),
    ("playlist_id", "cluster"),
)
ALL_TABLES: tuple[Table, ...] = (*RAW_TABLES, FEATURES_TRACK_FEATURES, *ANALYTICS_TABLES, ANALYTICS_SAVED_CLUSTERS)
