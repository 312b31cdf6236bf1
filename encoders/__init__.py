"""ONNX encoders: dense bi-encoders, SPLADE and inference-free sparse query encoders."""
