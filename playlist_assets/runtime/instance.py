"""The persistent Dagster instance folder shared by the command line and `make dev`."""

from __future__ import annotations

import json
from pathlib import Path

HEADER = "# Written by playlist-assets; edit freely, it is not overwritten.\n"

# What earlier versions wrote; a file still exactly like this was never edited by its user
# and is brought up to date.
# Writers of the DuckDB file share a pool of one slot (see partitions.WAREHOUSE_POOL),
# so runs launched side by side from the UI take turns instead of failing on the file lock.
PREVIOUS_TEMPLATE = (
    HEADER
    + """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""
)

# The event log is Dagster's SQLite log in its usual place, written in batches
# (playlist_assets/runtime/event_log.py says why).
EVENT_LOG_MODULE = "playlist_assets.runtime.event_log"
# Where the module was before the package was laid out by stage: files naming it are updated.
EARLIER_EVENT_LOG_MODULE = "playlist_assets.event_log"
WITH_EVENT_LOG_TEMPLATE = (
    PREVIOUS_TEMPLATE
    + """\
event_log_storage:
  module: playlist_assets.runtime.event_log
  class: BatchedSqliteEventLogStorage
  config:
    base_dir: {event_log_dir}
"""
)
# The daemon frees the writer slot of a run that ended without releasing it (a run process
# that crashed), and fails runs that never started; the command line settles the runs it
# started itself (owned_runs.py). Queued runs start within a second, not five.
TEMPLATE = (
    WITH_EVENT_LOG_TEMPLATE
    + """\
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 5
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
"""
)


def dagster_yaml(dagster_home: Path) -> str:
    # Dagster resolves a relative base_dir against the working directory, so it is absolute;
    # written as a JSON string, which YAML reads whatever characters the path holds.
    event_log_dir = (dagster_home / "history" / "runs").resolve()
    return TEMPLATE.format(event_log_dir=json.dumps(str(event_log_dir)))


def _written_by_us(text: str) -> bool:
    """Whether text is a dagster.yaml as this module writes it, for this or another folder.

    An event log path of another shape than <folder>/history/runs was set by hand: kept.
    """
    if text == PREVIOUS_TEMPLATE:
        return True
    templates = (WITH_EVENT_LOG_TEMPLATE, TEMPLATE)
    earlier = tuple(t.replace(EVENT_LOG_MODULE, EARLIER_EVENT_LOG_MODULE) for t in templates)
    return any(_fits(text, template) for template in templates + earlier)


def _fits(text: str, template: str) -> bool:
    before, _, after = template.partition("{event_log_dir}")
    if not (text.startswith(before) and text.endswith(after)):
        return False
    try:
        event_log_dir = json.loads(text[len(before):len(text) - len(after)])
    except ValueError:
        return False
    return isinstance(event_log_dir, str) and Path(event_log_dir).parts[-2:] == ("history", "runs")


def prepare_instance_folder(dagster_home: Path) -> Path:
    """Create the folder and its dagster.yaml if missing, or update an untouched one.

    Untouched means as this module writes it: an older version's file, or one naming another
    folder's event log because the project folder was copied or moved; left as it was, runs
    here would be recorded in that other folder's history.
    """
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    wanted = dagster_yaml(dagster_home)
    text = config.read_text() if config.exists() else None
    if text is None or (text != wanted and _written_by_us(text)):
        config.write_text(wanted)
    return dagster_home
