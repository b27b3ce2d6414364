"""Operating the farm: health and readiness checks, metrics."""
