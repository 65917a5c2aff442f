"""Reaching a visual quality: CRF search (builtin and ab-av1) and run_segment, the pure per-segment worker."""
