"""`playlist-assets`: build every playlist's report without opening the UI."""

from __future__ import annotations

import argparse
import sys
import time

from playlist_assets.settings import SETTINGS_DOC, Settings


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
    run = commands.add_parser("materialize", help="Build the whole graph for every playlist.")
    _add_setting_options(run)
    run.add_argument("-v", "--verbose", action="store_true", help="Show Dagster's own log lines.")
    init = commands.add_parser("init-instance", help="Create the Dagster instance folder.")
    _add_setting_options(init)
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 2

    from playlist_assets.instance import prepare_instance_folder

    prepare_instance_folder(settings.dagster_home)
    if args.command == "init-instance":
        print(f"Dagster instance folder: {settings.dagster_home}")
        return 0

    from playlist_assets.pipeline import PipelineError, materialize_everything

    started = time.monotonic()
    try:
        summary = materialize_everything(settings, echo=print, verbose=args.verbose)
    except PipelineError as error:
        print(f"playlist-assets: {error}", file=sys.stderr)
        return 1
    print(summary.render(time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
