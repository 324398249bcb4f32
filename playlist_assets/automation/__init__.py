"""Stage 5, automation: which reports are stale and how they are rebuilt (planning), the jobs, schedule and sensor (jobs)."""
