"""Vectors for indices Tandem did not create: ``tandem enrich`` and ``EnrichIndex``.

The user's index keeps its mapping, analyzers and write path. :mod:`.plan` reads it
and decides, before anything is written, whether the vector fields can be added in
place or a copy is needed (the engine facts are in its docstring and docs/enrich.md);
:mod:`.scan` reads documents (point-in-time, or per-shard sequence numbers);
:mod:`.run` encodes and writes them with a :mod:`.marker` per document, catches up
with writes made meanwhile, switches an alias after a copy (and :mod:`.deletes`
carries deletes made during it) and follows new writes; :mod:`.checkpoint` lets an
interrupted run resume; :mod:`.dialect` holds the REST calls as each engine spells
them.
"""
