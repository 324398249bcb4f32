"""The targets each figure is held to, and the table `run.py` prints."""

from __future__ import annotations

from dataclasses import dataclass

FULL_SCALE_PLAYLISTS = 1000
EXPECTED_INCREMENTAL_PARTITIONS = 5


@dataclass(frozen=True)
class Target:
    key: str  # the results.json field it applies to
    label: str
    limit: float
    unit: str
    exact: bool = False  # the figure must equal `limit` rather than stay at or below it

    def met(self, value: float) -> bool:
        return value == self.limit if self.exact else value <= self.limit

    def text(self) -> str:
        return f"{'==' if self.exact else '<='} {self.limit:g} {self.unit}"


TARGETS = (
    Target("demo_s", "demo, wall", 20, "s"),
    Target("scale_s", "scale, wall", 60, "s"),
    Target("scale_peak_rss_mb", "scale, peak RSS", 1536, "MiB"),
    Target("incremental_s", "incremental, wall", 10, "s"),
    Target("incremental_partitions", "incremental, partitions rebuilt", EXPECTED_INCREMENTAL_PARTITIONS, "", exact=True),
    Target("per_report_ms", "per report (clustering+PNG+Markdown)", 60, "ms"),
    Target("per_playlist_both_pages_ms", "per playlist, cluster report + Track Features page", 60, "ms"),
)
SCALE_KEYS = {"scale_s", "scale_peak_rss_mb"}


def target_status(results: dict) -> dict[str, dict]:
    """For results.json: per target, its limit, the figure, and whether it is met.

    `comparable` is False for the scale targets when fewer playlists than the target's 1,000
    were run: the figure is what was measured, not an extrapolation.
    """
    full_scale = results.get("scale_playlists") == FULL_SCALE_PLAYLISTS
    status = {}
    for target in TARGETS:
        value = results.get(target.key)
        status[target.key] = {
            "target": target.text(),
            "value": value,
            "met": None if value is None else target.met(value),
            "comparable": full_scale if target.key in SCALE_KEYS else True,
        }
    return status


def _status_word(entry: dict) -> str:
    if entry["value"] is None:
        return "skipped"
    word = "met" if entry["met"] else "NOT MET"
    return word if entry["comparable"] else f"{word} *"


def _value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {unit}".strip() if unit in ("MiB", "") else f"{value:,.2f} {unit}"


def render_table(results: dict) -> str:
    status = results["targets"]
    rows = [("figure", "value", "target", "status")]
    for target in TARGETS:
        entry = status[target.key]
        rows.append((target.label, _value_text(entry["value"], target.unit), entry["target"], _status_word(entry)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if any(not e["comparable"] and e["value"] is not None for e in status.values()):
        lines.append(
            f"* measured on {results['scale_playlists']} playlists, not the target's "
            f"{FULL_SCALE_PLAYLISTS}: not comparable, and not extrapolated."
        )
    return "\n".join(lines)


def _runs_lines(results: dict) -> list[str]:
    lines = ["runs (wall: spawn to exit; in process: the CLI's own timer; CPU: user + system):"]
    for run in ("demo", "scale", "incremental"):
        if results.get(f"{run}_s") is None:
            continue
        lines.append(
            f"  {run:<12} {results[f'{run}_s']:8.2f} s wall {results[f'{run}_in_process_s']:8.2f} s in process "
            f"{results[f'{run}_cpu_s']:8.2f} s CPU {results[f'{run}_peak_rss_mb']:6,d} MiB peak RSS"
        )
    if results.get("incremental_runs"):
        lines.append(f"  (the incremental rebuild took {results['incremental_runs']} Dagster runs)")
    return lines


def _stage_lines(results: dict) -> list[str]:
    scale, incremental = results.get("scale_stage_s"), results.get("incremental_stage_s") or {}
    if not scale:
        return []
    lines = [f"  {'stage (s, in process)':<28} {'scale':>8} {'incremental':>12}"]
    for stage, seconds in scale.items():
        lines.append(f"  {stage:<28} {seconds:8.2f} {incremental.get(stage, float('nan')):12.2f}")
    return lines


def _per_report_lines(results: dict) -> list[str]:
    new, old, cpu = results["per_report_parts_ms"], results["old_way_parts_ms"], results["per_report_parts_cpu_ms"]
    lines = [
        f"per report: ms per playlist over {results['per_report_playlists']} playlists of the "
        f"{results['per_report_warehouse']} warehouse; {results['per_report_markdown_same_as_pipeline']} of "
        "the Markdown reports are byte-identical to the pipeline's files",
        f"  {'part':<12} {'project':>10} {'(CPU)':>8} {'old way':>10} {'old/new':>8}",
    ]
    for part in new:
        ratio = old[part] / new[part] if new[part] else float("nan")
        lines.append(f"  {part:<12} {new[part]:10.1f} {cpu[part]:8.1f} {old[part]:10.1f} {ratio:8.1f}")
    lines.append(
        f"  {'total':<12} {results['per_report_ms']:10.1f} {sum(cpu.values()):8.1f} "
        f"{results['old_way_per_report_ms']:10.1f} {results['old_way_ratio']:8.1f}"
    )
    on_all = results.get("per_report_all_cores_parts_ms")
    if on_all:
        parts = " + ".join(f"{on_all[part]:.1f}" for part in new)
        lines.append(
            f"  {'all cores':<12} {results['per_report_all_cores_ms']:10.1f}   wall ms a playlist with clustering and "
            f"plots in one worker per core, as the pipeline runs a large library ({parts})"
        )
    lines.append(
        f"  old way (deliberately naive): {results['old_way']['plotted_with']}, {results['old_way']['lookups_with']};"
        f" clustering is the project's; PNG + Markdown alone: {results['old_way_render_ratio']:.1f}x"
    )
    return lines


def render_details(results: dict) -> str:
    """Run by run, stage by stage and part by part, under the targets table."""
    return "\n".join([*_runs_lines(results), *_stage_lines(results), "", *_per_report_lines(results)])
