"""The framework retrievers' pure parts: settings, hits as documents, errors, saving."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from tandem.client import ClientError, FusedHit, SearchHits, SearchOptions, Source
from tandem.client.client import Metadata
from tandem.frameworks import Retrieval, Sidecar
from tandem.frameworks.common import Passage, missing_extra, passages, reachable
from tandem.plugin.search.extension import DslError, with_text

NO_TIME = Metadata(0, 0.0, 0.0, 0.0, 0.0)


def _hits(*hits: FusedHit, mode: str = "sidecar") -> SearchHits:
    return SearchHits(list(hits), NO_TIME, mode)


def _template(**clause: Any) -> dict[str, Any]:
    return {"bool": {"must": [{"tandem": clause}], "filter": [{"term": {"lang": "en"}}]}}


def test_the_default_retrieval_explains_and_shows_the_bm25_fields() -> None:
    retrieval = Retrieval("idx", SearchOptions(fields=("title^2", "text"), explain=True))
    assert retrieval.content_fields == ("title", "text")
    assert Retrieval("idx").options == SearchOptions(explain=True)
    options = Retrieval(
        "idx", SearchOptions(size=5, document_fields=("url",)), metadata_fields=("year",)
    ).search_options()
    assert options.document_fields == ("url", "title", "text", "year")
    assert options.size == 5


def test_top_k_sets_the_size_and_grows_the_window() -> None:
    retrieval = Retrieval("idx", SearchOptions(size=5, window=20))
    assert (retrieval.search_options(3).size, retrieval.search_options(3).window) == (3, 20)
    assert (retrieval.search_options(50).size, retrieval.search_options(50).window) == (50, 50)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"index": " "}, "index is empty"),
        ({"metadata_fields": ("score",)}, "overwrite Tandem's own metadata"),
        ({"metadata_fields": ("meta.*",)}, "is a pattern"),
        ({"content_fields": "text"}, "must be a list"),
        ({"options": {"method": "rrf"}}, "must be a SearchOptions"),
        ({"dsl": {"match": {"title": "x"}}}, "has no 'tandem' clause"),
        ({"dsl": _template(method="colbert")}, r"query\.bool\.must\[0\]\.tandem\.method"),
    ],
)
def test_bad_settings_say_what_to_change(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Retrieval(**{"index": "idx", **settings})


def test_each_query_fills_the_tandem_clause_of_a_copy() -> None:
    template = _template(method="linear")
    retrieval = Retrieval("idx", dsl=template)
    template["bool"]["filter"] = []  # the retrieval kept its own copy
    query, dsl = retrieval.query("vitamin d")
    assert query == ""
    assert dsl == {
        "bool": {
            "must": [{"tandem": {"method": "linear", "query": "vitamin d"}}],
            "filter": [{"term": {"lang": "en"}}],
        }
    }
    assert retrieval.query("other")[1] != dsl and retrieval.dsl == _template(method="linear")
    assert Retrieval("idx").query("vitamin d") == ("vitamin d", None)


def test_with_text_replaces_a_query_and_leaves_a_query_without_a_clause() -> None:
    assert with_text({"tandem": {"query": "old"}}, "new") == {"tandem": {"query": "new"}}
    assert with_text({"match_all": {}}, "new") == {"match_all": {}}
    with pytest.raises(DslError):
        Retrieval("idx", dsl={"bool": {"must": [{"tandem": {}}, {"tandem": {}}]}})


def test_hits_become_passages_with_text_id_score_and_metadata() -> None:
    retrieval = Retrieval("idx", SearchOptions(explain=True), metadata_fields=("year", "a.b"))
    hit = FusedHit(
        "d1",
        0.03,
        {"bm25": Source(1, 9.5), "dense": Source(3, 0.7)},
        {"title": "Title", "text": "Body.", "year": 2001, "a": {"b": ["x"]}},
    )
    bare = FusedHit("d2", 0.01, {}, {"text": "Only text."})
    assert passages(_hits(hit, bare), retrieval) == [
        Passage(
            "d1",
            "Title\nBody.",
            0.03,
            {
                "id": "d1",
                "index": "idx",
                "score": 0.03,
                "mode": "sidecar",
                "retrievers": {
                    "bm25": {"rank": 1, "score": 9.5},
                    "dense": {"rank": 3, "score": 0.7},
                },
                "year": 2001,
                "a.b": ["x"],
            },
        ),
        Passage(
            "d2",
            "Only text.",
            0.01,
            {
                "id": "d2",
                "index": "idx",
                "score": 0.01,
                "mode": "sidecar",
                "retrievers": {},
                "year": None,
                "a.b": None,
            },
        ),
    ]


def test_a_content_field_that_is_not_text_names_the_document() -> None:
    retrieval = Retrieval("idx", content_fields=("title", "year"))
    hit = FusedHit("d7", 1.0, {}, {"title": "T", "year": 2001})
    with pytest.raises(ValueError, match=r"document d7 in idx: .*'year' holds int"):
        passages(_hits(hit), retrieval)


def test_an_unreachable_sidecar_says_what_to_do() -> None:
    refused = ClientError(
        grpc.StatusCode.UNAVAILABLE,
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: "
        "Failed to connect to remote host: Connection refused",
    )
    explained = reachable(refused, "127.0.0.1:1")
    assert explained.code is grpc.StatusCode.UNAVAILABLE
    assert "no Tandem sidecar answers at 127.0.0.1:1" in str(explained)
    assert "tandem serve" in str(explained) and "Connection refused" in str(explained)
    engine_down = ClientError(grpc.StatusCode.UNAVAILABLE, "engine not reachable")
    assert reachable(engine_down, "h:1") is engine_down


def test_a_missing_framework_names_its_extra() -> None:
    err = missing_extra(
        "haystack", ModuleNotFoundError("No module named 'haystack'", name="haystack")
    )
    assert (
        str(err)
        == "tandem.frameworks.haystack needs haystack: pip install 'tandem-search[haystack]'"
    )


def test_the_settings_save_as_plain_data_and_load_back() -> None:
    retrieval = Retrieval(
        "idx",
        SearchOptions(method="linear", weights={"bm25": 2.0}, filters=({"term": {"a": 1}},)),
        dsl=_template(),
        dense_field="vec",
        metadata_fields=("year",),
    )
    saved = json.loads(json.dumps(retrieval.to_dict()))
    assert saved["options"]["weights"] == {"bm25": 2.0}
    assert Retrieval.from_dict(saved) == retrieval
    sidecar = Sidecar("h:1", token="s3cret", tls=True, tls_ca="ca.pem")
    assert "s3cret" not in repr(sidecar) and "token" not in sidecar.to_dict()
    assert Sidecar.from_dict(sidecar.to_dict()) == Sidecar("h:1", tls=True, tls_ca="ca.pem")
    with pytest.raises(ValueError, match=r"retrieval: unknown keys \['k'\]"):
        Retrieval.from_dict({"index": "idx", "k": 3})


def test_each_framework_wraps_a_passage_in_its_own_document() -> None:
    from tandem.frameworks import haystack, langchain, llamaindex

    found = Passage("d1", "Title\nBody.", 0.5, {"id": "d1", "score": 0.5, "year": 2001})
    lc = langchain.document(found)
    assert (lc.id, lc.page_content, lc.metadata) == ("d1", "Title\nBody.", found.metadata)
    li = llamaindex.node(found)
    assert (li.node.node_id, li.node.get_content(), li.score) == ("d1", "Title\nBody.", 0.5)
    assert "score" in li.node.excluded_llm_metadata_keys and "year" not in (
        li.node.excluded_llm_metadata_keys
    )
    hs = haystack.document(found)
    assert (hs.id, hs.content, hs.score, hs.meta) == ("d1", "Title\nBody.", 0.5, found.metadata)


def test_the_langchain_retriever_dumps_plain_data_without_the_token() -> None:
    from tandem.frameworks.langchain import TandemRetriever

    retriever = TandemRetriever(
        retrieval=Retrieval("idx", SearchOptions(weights={"bm25": 2.0})),
        sidecar=Sidecar("h:1", token="s3cret"),
    )
    dumped = json.loads(retriever.model_dump_json())
    assert dumped["retrieval"]["options"]["weights"] == {"bm25": 2.0}
    assert dumped["sidecar"]["address"] == "h:1"
    assert "s3cret" not in json.dumps(dumped) + repr(retriever) + str(retriever.model_dump())


def test_the_haystack_component_saves_its_token_by_name_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from haystack.utils import Secret

    from tandem.frameworks.haystack import TandemRetriever

    monkeypatch.setenv("MY_TANDEM_TOKEN", "s3cret")
    retriever = TandemRetriever(
        Retrieval("idx", metadata_fields=("year",)),
        Sidecar("h:1"),
        token=Secret.from_env_var("MY_TANDEM_TOKEN"),
    )
    saved = retriever.to_dict()
    assert "s3cret" not in json.dumps(saved)
    assert saved["type"] == "tandem.frameworks.haystack.TandemRetriever"
    assert TandemRetriever.from_dict(json.loads(json.dumps(saved))).to_dict() == saved
    with pytest.raises(ValueError, match="Secret"):
        TandemRetriever(Retrieval("idx"), Sidecar("h:1", token="s3cret"))
