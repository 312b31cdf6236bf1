"""The gRPC sidecar: ``tandem.v1`` servicers, dynamic batching, health, metrics.

Transport stays here: servicers translate protobuf messages into plain Python
objects (:mod:`.convert`), and the encoders, rewriter, fusion and adapters
never import grpc.
"""
