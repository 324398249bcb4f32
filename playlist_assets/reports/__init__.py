"""Stage 4, reports: Markdown and PNG renderers, their data (report_data), and the report, page, lineage and saving assets."""
