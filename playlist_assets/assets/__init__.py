"""Thin Dagster wiring: read inputs, call the pure modules, write outputs, attach metadata."""
