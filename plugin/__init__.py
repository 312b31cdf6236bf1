"""Tandem's sidecar: CLI, servicers, engine adapters, rewriter and fusion."""
