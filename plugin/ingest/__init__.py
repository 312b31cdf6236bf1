"""Ingest: read documents, encode them, write them to an engine without losing any."""
