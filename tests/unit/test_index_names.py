"""The index-name policy: concrete names only, and the operator's allow-list."""

from __future__ import annotations

import pytest

from tandem.plugin.index.names import BadIndexName, IndexNotAllowed, IndexPolicy

pytestmark = pytest.mark.unit

NEVER = ["*", "_all", "docs-*", "a,b", "doc?", "my index", ""]
HIDDEN = [".security-7", ".kibana", "-docs", "_internal", "remote:logs", "cluster:logs-1"]


@pytest.mark.parametrize("name", NEVER)
def test_wildcards_lists_and_all_are_never_accepted(name: str) -> None:
    for policy in (IndexPolicy(), IndexPolicy(("*",)), IndexPolicy.parse("docs-*,*")):
        with pytest.raises(BadIndexName):
            policy.check(name)


@pytest.mark.parametrize("name", HIDDEN)
def test_system_hidden_and_remote_names_are_refused_by_default(name: str) -> None:
    with pytest.raises(IndexNotAllowed, match="--indices"):
        IndexPolicy().check(name)


def test_ordinary_names_pass_by_default() -> None:
    for name in ("docs", "tandem-test-1", "products_v2", "a.b"):
        assert IndexPolicy().check(name) == name


def test_the_allow_list_decides_when_set() -> None:
    policy = IndexPolicy.parse(" docs-*, .tandem-private ,remote:logs-*")
    assert policy.patterns == ("docs-*", ".tandem-private", "remote:logs-*")
    for name in ("docs-1", ".tandem-private", "remote:logs-2026"):
        assert policy.check(name) == name
    for name in ("products", ".security-7", "remote:other"):
        with pytest.raises(IndexNotAllowed, match="allow-list"):
            policy.check(name)
