"""Marks every test by its folder and loads the engine fixtures."""

from __future__ import annotations

import os
from pathlib import Path

# The tests run sidecars in this process and spawn CLI processes beside them. With gRPC's
# fork support on, a child forked while gRPC threads run restarts gRPC's poller before
# exec, and subprocess has closed its epoll fd by then: the child aborts with "epoll_wait
# error: Bad file descriptor" (grpc/grpc#43055; CI saw it once in 1,826 tests). The
# children exec at once and need none of gRPC's fork handling. Set before gRPC loads.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import pytest

from tandem.integration.specs import DEFAULT_VERSIONS
from tandem.plugin.engines.kinds import EngineKind

pytest_plugins = ["tandem.integration.pytest_plugin"]

# Haystack, when imported, writes ~/.haystack and sends usage telemetry from pipeline runs
# unless this is off; the tests talk to local servers only (set before anything imports it).
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

_HERE = Path(__file__).parent


# A test that asks for one of these fixtures only makes sense on that engine.
_ENGINE_ONLY = {"opensearch": EngineKind.OPENSEARCH, "elasticsearch": EngineKind.ELASTICSEARCH}


# The engine matrix's older line (OpenSearch 2.19) runs the tests whose subject is the
# engine's own API: adapters, mappings, query DSL and native fusion, ingest, enrich's
# plans and copies, passages, the connector. These modules test Tandem's own surfaces
# (command-line output, the HTTP face, framework retrievers, sidecar plumbing and
# policy, fuzzing, benchmark smokes) over engine calls those tests already cover, and
# run on each engine's default version only, as do the long robustness tests marked
# ``newest_engines`` one by one. (CI time: on two cores the older line's full run cost
# about a third of the suite.)
_NEWEST_ONLY_MODULES = frozenset(
    {
        "test_benchmark_enrich_smoke",
        "test_benchmark_fusion_smoke",
        "test_benchmark_lexical_smoke",
        "test_benchmark_queries_smoke",
        "test_demo_cli",
        "test_engine_unreachable_cli",
        "test_enrich_search",
        "test_enrich_sidecar",
        "test_eval_cli",
        "test_eval_coverage_cli",
        "test_frameworks_haystack",
        "test_frameworks_langchain",
        "test_frameworks_llamaindex",
        "test_fuzz",
        "test_http_face",
        "test_indices_cli",
        "test_partial_results",
        "test_query_cache",
        "test_search_cli",
        "test_secrets_never_shown",
        "test_serve_logs",
        "test_sidecar_cli",
        "test_sidecar_engine_faults",
        "test_sidecar_index_policy",
        "test_sidecar_ingest_stream",
        "test_sidecar_query_policy",
        "test_sidecar_shutdown",
    }
)


def _applies(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("engine") if callspec is not None else None
    if not (isinstance(param, tuple) and len(param) == 2 and isinstance(param[0], EngineKind)):
        return True  # not the engine matrix's parameter
    kind, version = param
    if item.get_closest_marker("newest_engines") and version != DEFAULT_VERSIONS[kind]:
        return False
    names = getattr(item, "fixturenames", ())
    return all(kind is only for name, only in _ENGINE_ONLY.items() if name in names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        suite = Path(item.path).relative_to(_HERE).parts[0]
        if suite in ("unit", "integration", "docker"):
            item.add_marker(suite)
        if Path(item.path).stem in _NEWEST_ONLY_MODULES:
            item.add_marker("newest_engines")
    # Engine-specific tests are not generated for the other engine (not skipped).
    dropped = [item for item in items if not _applies(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if _applies(item)]
