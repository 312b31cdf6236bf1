"""``tandem demo``: hybrid search over the Python standard library's docstrings."""
