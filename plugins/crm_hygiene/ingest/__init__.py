"""Ingest of prospect drops: read, gate, check rows, normalise, stage, merge."""
