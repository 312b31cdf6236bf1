"""A local cluster's spec and node settings (``tandem engines up --nodes N``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.integration.config import InstanceLayout, cluster_name, engine_settings
from tandem.integration.extras import EXTRAS
from tandem.integration.handle import EngineHandle, load_handle
from tandem.integration.specs import MAX_NODES, EngineKind, engine_spec


def test_each_node_has_its_own_ports_name_and_data_and_all_share_seeds() -> None:
    spec = engine_spec(EngineKind.OPENSEARCH, port=9250, nodes=3)
    assert [spec.ports(n) for n in range(3)] == [(9250, 9350), (9251, 9351), (9252, 9352)]
    nodes = [engine_settings(spec, InstanceLayout(Path(f"/c/node-{n}")), n) for n in range(3)]
    assert [s["http.port"] for s in nodes] == ["9250", "9251", "9252"]
    assert [s["transport.port"] for s in nodes] == ["9350", "9351", "9352"]
    assert [s["node.name"] for s in nodes] == ["tandem-node-0", "tandem-node-1", "tandem-node-2"]
    assert [s["path.data"] for s in nodes] == ["/c/node-0/data", "/c/node-1/data", "/c/node-2/data"]
    seeds = '["127.0.0.1:9350", "127.0.0.1:9351", "127.0.0.1:9352"]'
    managers = '["tandem-node-0", "tandem-node-1", "tandem-node-2"]'
    for settings in nodes:
        assert "discovery.type" not in settings
        assert settings["discovery.seed_hosts"] == seeds
        assert settings["cluster.initial_cluster_manager_nodes"] == managers
        assert settings["cluster.name"] == "tandem-opensearch-9250"


def test_elasticsearch_names_its_first_masters_the_old_way() -> None:
    spec = engine_spec(EngineKind.ELASTICSEARCH, port=9260, nodes=2)
    settings = engine_settings(spec, InstanceLayout(Path("/c/node-1")), 1)
    assert settings["cluster.initial_master_nodes"] == '["tandem-node-0", "tandem-node-1"]'
    assert "cluster.initial_cluster_manager_nodes" not in settings


def test_one_node_is_the_single_node_engine_as_before() -> None:
    spec = engine_spec(EngineKind.OPENSEARCH)
    settings = engine_settings(spec, InstanceLayout(Path("/i")))
    assert settings["discovery.type"] == "single-node"
    assert settings["node.name"] == "tandem-node"
    assert cluster_name(spec) == "tandem-opensearch"
    assert spec.instance == "opensearch-3.6.0-9200"


def test_a_cluster_has_an_instance_folder_of_its_own() -> None:
    # A single node's data would not join a cluster: the two never share a folder.
    assert engine_spec(EngineKind.OPENSEARCH, nodes=3).instance == "opensearch-3.6.0-9200-3-nodes"


@pytest.mark.parametrize("nodes", [0, MAX_NODES + 1])
def test_node_counts_out_of_range_are_refused(nodes: int) -> None:
    with pytest.raises(ValueError, match=f"1 to {MAX_NODES} nodes"):
        engine_spec(EngineKind.OPENSEARCH, nodes=nodes)


def test_ml_commons_runs_on_a_single_node_only() -> None:
    with pytest.raises(ValueError, match="single node"):
        engine_spec(EngineKind.OPENSEARCH, extras=(EXTRAS["ml"],), nodes=3)


def test_a_cluster_handle_keeps_every_node_process(tmp_path: Path) -> None:
    handle = EngineHandle(
        EngineKind.OPENSEARCH,
        "3.6.0",
        "http://127.0.0.1:9250",
        "started",
        pid=100,
        pid_start=7,
        nodes=3,
        peers=((101, 8), (102, None)),
    )
    handle.save(tmp_path / "state.json")
    loaded = load_handle(tmp_path / "state.json")
    assert loaded == handle
    assert loaded.name == "opensearch-3.6.0-3-nodes"
    assert loaded.processes == ((100, 7), (101, 8), (102, None))
