"""Benchmarks for Tandem (run as modules from the repository root)."""
