"""Turning a `quality.Finding` into a Dagster asset check result."""

import dagster as dg

from playlist_assets.warehouse import quality


def check_result(
    finding: quality.Finding,
    asset_key,
    name: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=name,
        passed=finding.passed,
        severity=severity,
        description=finding.summary,
        # Nested details (per-playlist maps) are shown as JSON rather than dropped.
        metadata={
            k: v if isinstance(v, (int, float, str)) or v is None else dg.MetadataValue.json(v)
            for k, v in finding.details.items()
            if v is not None
        },
    )
