"""The shape of an index: which fields hold text, dense vectors and sparse terms.

``spec`` is the engine-neutral description users write, ``mapping`` turns it into
each engine's mapping body, and ``terms`` writes sparse term names the way the
engines accept them. Pure: nothing here talks to an engine.
"""
