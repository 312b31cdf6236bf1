"""Scale benchmark: latency, recall and footprint from 10k to 1M documents (docs/scale.md)."""
