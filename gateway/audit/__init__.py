"""Stage 10: one audit record per request."""
