"""`playlist-assets`: build every playlist's report without opening the UI."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

from playlist_assets.runtime.settings import SETTINGS_DOC, Settings

# Some input files were refused and left out; the rest was imported and reported.
EXIT_REFUSED_FILES = 3
MATERIALIZE_EXIT_STATUS = (
    "Exit status: 0 when everything was imported; 1 when the command failed (one sentence says what "
    "and where); 2 for an option or setting that cannot be used; "
    f"{EXIT_REFUSED_FILES} when some input files were refused: the others were imported and reported, "
    "and each refused file is named with its reason in the output and in reports/README.md."
)


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    for name, var, default, meaning in SETTINGS_DOC:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            default=None,
            help=f"{meaning} Env {var}; default {default or '(none)'}.",
        )
    parser.add_argument("--path", dest="source_path", default=None, help="Alias of --source-path.")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(**{name: getattr(args, name, None) for name, *_ in SETTINGS_DOC})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="playlist-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "materialize", help="Build the whole graph for every playlist.", epilog=MATERIALIZE_EXIT_STATUS
    )
    _add_setting_options(run)
    run.add_argument("-v", "--verbose", action="store_true", help="Show Dagster's own log lines.")
    run.add_argument(
        "--changed-only",
        action="store_true",
        help="Rebuild only playlists whose snapshot, contents or this program's version changed since their report.",
    )
    run.add_argument("--summary-json", metavar="FILE", help="Also write the run summary as JSON (for scripts).")
    init = commands.add_parser("init-instance", help="Create the Dagster instance folder.")
    _add_setting_options(init)
    login = commands.add_parser(
        "login",
        help="Log in to Spotify (prints a URL to open; paste back the address it redirects to).",
    )
    login.add_argument(
        "--save",
        action="store_true",
        help="Also allow `save-clusters` to create and change playlists in your account (asks Spotify "
        "for playlist-modify-private and playlist-modify-public).",
    )
    sql = commands.add_parser(
        "sql",
        help="Run one SQL query on the warehouse and print it; it may only read the warehouse "
        "(writes, COPY ... TO, EXPORT, ATTACH, SET and reading other files are refused).",
    )
    sql.add_argument("query")
    _add_setting_options(sql)
    export = commands.add_parser("export", help="Write every warehouse table as Parquet.")
    export.add_argument("--parquet", required=True, metavar="DIR", help="Folder to write into.")
    _add_setting_options(export)
    _add_save_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "login":
        return _login(args.save)
    try:
        settings = _settings(args)
    except ValueError as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 2

    if args.command in ("sql", "export"):
        return _read_only_command(args, settings)
    if args.command == "save-clusters":
        return _save_clusters(args, settings)

    if args.command == "init-instance":
        _use_instance(settings)
        print(f"Dagster instance folder: {settings.dagster_home}")
        return 0
    from playlist_assets.warehouse.database import WarehouseUnusableError, check_usable

    try:
        check_usable(settings.warehouse)  # before any run: a bad file is one sentence, at once
    except WarehouseUnusableError as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 1
    # An offline library is read in a second process while this one imports Dagster and
    # starts its first run; the landing asset takes it from there (sources.offline).
    from playlist_assets.ingest.sources.offline import reading_ahead

    with reading_ahead(settings.offline_library()):
        return _materialize(args, settings)


def _use_instance(settings: Settings) -> None:
    from playlist_assets.runtime.instance import prepare_instance_folder

    prepare_instance_folder(settings.dagster_home)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)  # the instance this process uses


def _materialize(args: argparse.Namespace, settings: Settings) -> int:
    _use_instance(settings)
    from playlist_assets.runtime.pipeline import PipelineError, materialize_everything

    # Dagster and the graph, just imported, live as long as the command: kept out of the
    # garbage collector's scans during the runs and at exit.
    gc.freeze()
    started = time.monotonic()
    try:
        summary = materialize_everything(
            settings, echo=print, verbose=args.verbose, changed_only=args.changed_only
        )
    except PipelineError as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 1
    seconds = time.monotonic() - started
    print(summary.render(seconds))
    if args.summary_json:
        import json
        from pathlib import Path

        Path(args.summary_json).write_text(json.dumps(summary.as_json(seconds), indent=2))
    if summary.refused:
        # A script that only checks the status must notice the files that were left out.
        print(
            f"playlist-assets: {len(summary.refused)} input file(s) were refused and left out (named above and "
            f"in {settings.reports / 'README.md'}); exit status {EXIT_REFUSED_FILES}.",
            file=sys.stderr,
        )
        return EXIT_REFUSED_FILES
    return 0


def _login(save: bool = False) -> int:
    import os

    from playlist_assets.ingest.sources.spotify_api import SpotifyConfig
    from playlist_assets.ingest.sources.spotify_auth import MODIFY_SCOPES, SCOPES, login
    from playlist_assets.ingest.sources.spotify_http import SpotifyError

    try:
        cache = login(SpotifyConfig.from_env(os.environ), scopes=SCOPES + MODIFY_SCOPES if save else SCOPES)
    except (SpotifyError, ValueError) as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 1
    print(f"Logged in; the token is kept in {cache} (readable only by you).")
    return 0


def _add_save_parser(commands) -> None:
    save = commands.add_parser(
        "save-clusters",
        help="Save a playlist's clusters as playlists in your Spotify account, named '<playlist> · Cluster #N: "
        "<description>', private unless --public; saving a cluster again updates its playlist. Needs "
        "`playlist-assets login --save` (without a login: each report links its clusters' track lists).",
    )
    save.add_argument("playlist", help="The playlist's id or name (exact, or the one name that matches ignoring case).")
    save.add_argument(
        "--cluster", type=int, action="append", default=[], metavar="N",
        help="Save cluster #N only (repeat for more); every cluster by default.",
    )
    save.add_argument("--public", action="store_true", help="Make the saved playlists public (default: private).")
    save.add_argument("--dry-run", action="store_true", help="Print what would be created or updated; send nothing.")
    _add_setting_options(save)


def _no_warehouse(settings: Settings) -> bool:
    """Say so, in one sentence, when the commands that read the warehouse have none to read."""
    if settings.warehouse.is_file():
        return False
    print(
        f"playlist-assets: no warehouse at {settings.warehouse}; run `make demo` or "
        "`playlist-assets materialize` first, or pass --warehouse.",
        file=sys.stderr,
    )
    return True


def _save_clusters(args: argparse.Namespace, settings: Settings) -> int:
    from playlist_assets.reports import saved_clusters
    from playlist_assets.ingest.sources.spotify_api import SpotifyConfig
    from playlist_assets.ingest.sources.spotify_http import SpotifyError
    from playlist_assets.warehouse.database import WarehouseBusyError, WarehouseUnusableError, connect

    if _no_warehouse(settings):
        return 1
    try:
        # A dry run only reads; a save holds the warehouse so each saved cluster is recorded at once.
        with connect(settings.warehouse, read_only=args.dry_run, wait_s=settings.lock_wait_s) as conn:
            plans = saved_clusters.plan(conn, [args.playlist], args.cluster, args.public)
            if args.dry_run:
                for plan in plans:
                    print(plan.preview())
                print("Dry run: nothing was sent to Spotify.")
                return 0
            saved_clusters.save(conn, plans, SpotifyConfig.from_env(os.environ), log=print)
    except (SpotifyError, ValueError, WarehouseBusyError, WarehouseUnusableError) as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 1
    print(
        "The report links to the saved playlists from its next build: `playlist-assets materialize "
        "--changed-only` (in the UI, the sensor rebuilds it)."
    )
    return 0


def _read_only_command(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    from playlist_assets.warehouse.database import WarehouseBusyError, WarehouseUnusableError, connect

    if _no_warehouse(settings):
        return 1
    statements: list = []  # named before the try: the except below reads them
    try:
        if args.command == "sql":
            statements = duckdb.extract_statements(args.query)
        if args.command == "sql" and len(statements) != 1:
            # Checked before opening: a second statement could be the one that does harm, and
            # running the first alone would still surprise.
            print(
                f"playlist-assets: playlist-assets sql runs one statement; got {len(statements)}. Run them one at a time."
                if statements
                else "playlist-assets: playlist-assets sql got no statement; pass one query, e.g. "
                '`playlist-assets sql "SELECT count(*) FROM raw.playlists"`.',
                file=sys.stderr,
            )
            return 1
        with connect(settings.warehouse, read_only=True, wait_s=settings.lock_wait_s) as conn:
            if args.command == "sql":
                # read_only=True only protects the warehouse file: without these, a query could
                # still COPY ... TO or EXPORT over any file, ATTACH another database writable,
                # read any file (read_csv('/etc/passwd')) or fetch and load extensions. The
                # settings hold for the whole DuckDB instance, which is this command's alone,
                # and lock_configuration (set last) keeps the query from SETting them back.
                for setting in (
                    "enable_external_access = false",
                    "autoinstall_known_extensions = false",
                    "autoload_known_extensions = false",
                    "allow_community_extensions = false",
                    "lock_configuration = true",
                ):
                    conn.execute(f"SET {setting}")
                result = conn.sql(args.query)
                if result is not None:  # DuckDB returns no relation for a statement with nothing to show
                    result.show(max_rows=200, max_width=200)
                return 0
            from pathlib import Path

            from playlist_assets.warehouse.export import export_parquet

            out = Path(args.parquet).expanduser().resolve()
            for item in export_parquet(conn, out):
                print(f"{item.table:<36} {item.rows:>8} rows  {item.path}")
            return 0
    except duckdb.Error as error:
        detail = str(error).strip().splitlines()[0]
        refused = isinstance(error, duckdb.PermissionException) or any(
            marker in detail for marker in ("configuration has been locked", "read-only mode")
        )
        if statements and refused:
            kind = statements[0].type.name.replace("_", " ")
            print(
                f"playlist-assets: refused this {kind} statement because `playlist-assets sql` is "
                "read-only and only reads the warehouse: writes, COPY ... TO, EXPORT, ATTACH, SET and "
                f"reading other files are refused ({detail}); `playlist-assets export --parquet DIR` "
                "writes the tables out.",
                file=sys.stderr,
            )
        else:
            print(f"playlist-assets: {error}", file=sys.stderr)
        return 1
    except (WarehouseBusyError, WarehouseUnusableError) as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 1


def entry() -> None:
    """The `playlist-assets` command."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
