"""A stemmed BM25 outside any engine, to read the engine's lexical leg against.

bm25s with the settings of the strong lexical baselines in the literature (Anserini's
BEIR "flat" runs): k1 0.9, b 0.4, English stop words and the Snowball English
stemmer (PyStemmer), over title and text as one field. On the shared datasets it
gives nDCG@10 0.676 (SciFact), 0.352 (Cranfield) and 0.373 (CISI); Anserini's own
SciFact flat run is 0.679. bm25s is maintained, numpy-only and indexes SciFact in
about a second, so every ``tandem eval`` can afford it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tandem.plugin.ingest.documents import Document

from .data import Dataset
from .metrics import relevance

K1, B = 0.9, 0.4
DEPTH = 100
# nDCG@10 of this reference on the shared datasets (computed with this module).
SHIPPED = {"scifact": 0.6762, "cranfield": 0.3517, "cisi": 0.3725}


def stemmed_bm25(dataset: Dataset, docs: Sequence[Document]) -> dict[str, float]:
    """nDCG@10, recall@100 and MRR@10 of the reference over ``dataset``'s judged queries."""
    try:
        import bm25s
        import Stemmer
    except ImportError as err:
        raise ImportError(
            "the stemmed BM25 reference needs the eval extra: pip install 'tandem-search[eval]'"
        ) from err
    stemmer = Stemmer.Stemmer("english")
    corpus = [" ".join(v for v in (d.text.get("title"), d.text.get("text")) if v) for d in docs]
    model = bm25s.BM25(k1=K1, b=B)
    model.index(
        bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    ids = list(dataset.queries)
    tokens = bm25s.tokenize(
        [dataset.queries[q] for q in ids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    found, scores = model.retrieve(tokens, k=min(DEPTH, len(docs)), show_progress=False)
    run = {
        qid: {docs[int(i)].id: float(s) for i, s in zip(rows, values, strict=True) if s > 0}
        for qid, rows, values in zip(ids, found, scores, strict=True)
    }
    return relevance(run, dataset.qrels)
