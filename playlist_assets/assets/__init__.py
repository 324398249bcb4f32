"""Thin Dagster wiring: read inputs, call the pure modules, write outputs, attach metadata."""

import warnings

import dagster as dg

# Single-run backfills are a deliberate choice; Dagster's "beta" notice about them would
# otherwise print twice in every process that loads these assets.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
