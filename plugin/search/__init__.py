"""The query path: how a user's query becomes engine DSL and a ranked page of hits.

``options`` and ``policy`` check what a caller asks for; ``query_dsl``, ``rewriter``,
``native`` and ``extension`` build the engine requests; ``searcher`` runs them and
``fusion`` merges the retrievers' lists. Import the module you need: this file
re-exports nothing, so a light caller (the client) never loads the encoders.
"""
