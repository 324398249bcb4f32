"""The DuckDB warehouse: its tables, reads, writes, quality rules and SQL views, and their Dagster metadata."""
