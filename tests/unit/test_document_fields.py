"""``document_fields``: stored fields with each hit, from the client's request through the
server's converters and back, and an old client's request left as it was."""

from __future__ import annotations

import pytest

from tandem.client.client import search_hits, search_request
from tandem.plugin.search.hits import FusedHit, Source
from tandem.plugin.search.options import SearchOptions
from tandem.plugin.server import convert
from tandem.v1 import search_pb2


def test_the_fields_travel_to_the_server_and_the_documents_back() -> None:
    options = SearchOptions(size=2, explain=True, document_fields=("title", "meta.year"))
    call = convert.search_call(search_request("idx", "heart", options))
    assert call.options.document_fields == ("title", "meta.year")
    fused = [
        FusedHit("a", 0.5, {"bm25": Source(1, 9.0)}, {"title": "A", "meta": {"year": 2001}}),
        FusedHit("b", 0.25, {"dense": Source(2, 0.7)}, {}),
    ]
    response = search_pb2.SearchResponse(
        hits=convert.hits(fused, explain=True, documents=True), mode="sidecar"
    )
    hits = search_hits(response).hits
    assert [(h.id, h.score, dict(h.sources), h.document) for h in hits] == [
        ("a", 0.5, {"bm25": Source(1, 9.0)}, {"title": "A", "meta": {"year": 2001}}),
        ("b", 0.25, {"dense": Source(2, 0.7)}, {}),
    ]


def test_a_request_without_fields_gets_no_documents() -> None:
    """What a client from before document_fields sends and reads."""
    call = convert.search_call(search_pb2.SearchRequest(index="idx", query="heart"))
    assert call.options.document_fields == ()
    (hit,) = convert.hits([FusedHit("a", 1.0, {})], explain=False)
    assert hit.document_json == ""
    assert search_hits(search_pb2.SearchResponse(hits=[hit])).hits[0].document == {}


@pytest.mark.parametrize("bad", ["title", ("title", " ")])
def test_bad_document_fields_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="document_fields"):
        SearchOptions(document_fields=bad)  # type: ignore[arg-type]
