"""Encoding on a Ray cluster: a pool of encoder workers behind ingest and enrich.

``tandem index --ray`` and ``tandem enrich --ray`` keep their whole run in the
calling process (reading, resume and markers, the bulk writer, the per-document
report) and send only the encoding to the pool (:class:`EncoderPool`), whose
workers load the models once each. Ray is the optional ``ray`` extra.

The pool is :mod:`.pool` (it loads numpy and the encoders); this package itself
holds only its errors, so the command line can name them without loading either.
"""

from .errors import PoolError, RayMissing

__all__ = ["PoolError", "RayMissing"]
