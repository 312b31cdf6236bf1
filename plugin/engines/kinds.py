"""The engine families Tandem speaks to, and where each answers by default."""

from __future__ import annotations

from enum import StrEnum


class EngineKind(StrEnum):
    OPENSEARCH = "opensearch"
    ELASTICSEARCH = "elasticsearch"

    @property
    def label(self) -> str:
        return "OpenSearch" if self is EngineKind.OPENSEARCH else "Elasticsearch"

    @property
    def url_env(self) -> str:
        """Environment variable that points Tandem at an existing engine of this kind."""
        return f"TANDEM_{self.name}_URL"

    @property
    def default_url(self) -> str:
        """Where a local engine of this kind listens unless told otherwise."""
        return DEFAULT_URLS[self]


# The newest line of each kind listens here when started by ``tandem engines up``
# (the launcher's specs keep these ports; a unit test checks they agree).
DEFAULT_URLS: dict[EngineKind, str] = {
    EngineKind.OPENSEARCH: "http://127.0.0.1:9200",
    EngineKind.ELASTICSEARCH: "http://127.0.0.1:9210",
}
