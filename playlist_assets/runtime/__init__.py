"""Runtime plumbing, apart from the domain: CLI, in-process pipeline, worker pool, instance folder, event log, settings, resources."""
