"""One partition per playlist, keyed by its name and its id: "Heavy Rotation-37i9dQZF1DX".

Typing a name, or part of it, as it reads (any case, any script: "Heavy Rotation", "夜のドライブ")
in the UI's partition filter finds the playlist; the id keeps keys unique and tells the playlist
apart from others of the same name. A renamed playlist gets a new key
(the landing adds it and deletes the old one, whose run history goes with it). Inside the
warehouse everything stays keyed by playlist_id: `ids_by_key` translates at the boundary.
"""

import re
import unicodedata
import warnings
from collections.abc import Iterable

import dagster as dg

# Every asset module imports this one. Single-run backfills are a deliberate choice; Dagster's
# "beta" notice about them would otherwise print twice in every process that loads the assets.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

PLAYLISTS = dg.DynamicPartitionsDefinition(name="playlists")
# How every per-playlist asset is partitioned: a run over many playlists is one run.
PER_PLAYLIST = dict(partitions_def=PLAYLISTS, backfill_policy=dg.BackfillPolicy.single_run())

# Every asset that writes the DuckDB file runs in this pool, so writers take turns.
WAREHOUSE_POOL = "duckdb_warehouse"


# Keys stay short enough to read in the UI's lists.
MAX_KEY_NAME = 60


# Characters a key's name part drops: "-" ends the name; ",", "[", "]" and "..." are the
# syntax of the UI's partition selections; control characters Dagster refuses.
_NOT_IN_KEYS = re.compile(r"[-,\[\]\s\x00-\x1f\x7f]+|\.{3,}")


def key_name(name: str | None) -> str:
    """A name as the partition filter finds it when typed as it reads (the filter ignores case):
    the name itself, with the few characters keys cannot hold turned into single spaces."""
    text = _NOT_IN_KEYS.sub(" ", unicodedata.normalize("NFKC", name or "")).strip()
    return text[:MAX_KEY_NAME].rstrip() or "playlist"


def partition_key(playlist_id: str, name: str | None) -> str:
    # The name holds no "-", so the first "-" ends it, whatever the id holds.
    return f"{key_name(name)}-{playlist_id}"


def keys_by_id(playlists: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """playlist_id -> partition key, for (playlist_id, name) pairs (rows of raw.playlists)."""
    return {playlist_id: partition_key(playlist_id, name) for playlist_id, name in playlists}


def ids_by_key(playlists: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """partition key -> playlist_id: the inverse of keys_by_id."""
    return {key: playlist_id for playlist_id, key in keys_by_id(playlists).items()}


def playlists_of_run(partition_keys: Iterable[str], playlists: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """partition key -> playlist_id for the keys of a run whose playlist is in `playlists`
    (rows of raw.playlists); a key of a playlist renamed or removed since is left out."""
    known = ids_by_key(playlists)
    return {key: known[key] for key in partition_keys if key in known}


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover the partitions first..last (single-run backfill)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
