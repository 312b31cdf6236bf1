"""Optional plugin sets that ``tandem engines up opensearch --with NAME`` adds.

An extra is a few more plugin zips from Maven Central, installed after the
engine's own in dependency order, plus the node settings that make them usable
on one small local node. An engine with extras is installed in a home of its
own (``dist/opensearch-3.6.0-with-ml``), so the plain install stays as it is.
Everything here is pure data.
"""

from __future__ import annotations

from dataclasses import dataclass

from tandem.plugin.engines.kinds import EngineKind


@dataclass(frozen=True)
class Extra:
    """One optional plugin set.

    ``artifacts`` are ``org.opensearch.plugin`` artifact ids (the version is
    the engine's plus ``.0``) in install order: a plugin's ``extended.plugins``
    must be installed before it. ``plugin`` is the name the main one reports in
    ``_cat/plugins``, checked when attaching to an engine that is already up.
    """

    name: str
    label: str
    kinds: tuple[EngineKind, ...]
    artifacts: tuple[str, ...]
    plugin: str
    settings: tuple[tuple[str, str], ...] = ()


def yaml_list(items: tuple[str, ...]) -> str:
    """A YAML flow sequence of single-quoted strings, where backslashes stay literal."""
    quoted = ", ".join("'" + item.replace("'", "''") + "'" for item in items)
    return f"[{quoted}]"


# Connector URLs ML Commons may call: the local machine on any port (the sidecar, a test
# server) and Docker's host alias. The whole URL must match (Matcher.matches()).
LOCAL_ENDPOINTS = tuple(
    rf"^https?://{host}(:[0-9]+)?(/.*)?$"
    for host in (r"localhost", r"127\.0\.0\.1", r"\[::1\]", r"host\.docker\.internal")
)

ML_COMMONS = Extra(
    name="ml",
    label="ML Commons",
    kinds=(EngineKind.OPENSEARCH,),
    # opensearch-ml's descriptor: extended.plugins=opensearch-job-scheduler (3.x adds
    # opensearch-security;optional=true, which is absent here).
    artifacts=("opensearch-job-scheduler", "opensearch-ml-plugin"),
    plugin="opensearch-ml",
    settings=(
        ("plugins.ml_commons.trusted_connector_endpoints_regex", yaml_list(LOCAL_ENDPOINTS)),
        # Loopback and private addresses are refused at request time unless this is on.
        ("plugins.ml_commons.connector.private_ip_enabled", "true"),
        # A single node has no `ml` role.
        ("plugins.ml_commons.only_run_on_ml_node", "false"),
        # ML Commons' breakers (JVM heap over 85%, under 5 GB free disk) never gate remote
        # models, but they refuse local-model deploys, training and (2.x) agent runs, which a
        # 512 MB heap and a small CI disk would trip: off, like the disk watermark.
        ("plugins.ml_commons.jvm_heap_memory_threshold", "100"),
        ("plugins.ml_commons.disk_free_space_threshold", "0b"),
    ),
)

EXTRAS: dict[str, Extra] = {extra.name: extra for extra in (ML_COMMONS,)}


def check_extras(kind: EngineKind, extras: tuple[Extra, ...]) -> tuple[Extra, ...]:
    """``extras`` once each, in name order; refused for an engine they do not fit."""
    for extra in extras:
        if kind not in extra.kinds:
            fits = " or ".join(k.label for k in extra.kinds)
            raise ValueError(
                f"{extra.label} (--with {extra.name}) is for {fits} only, not {kind.label}: "
                f"'tandem engines up {extra.kinds[0].value} --with {extra.name}'"
            )
    return tuple(sorted(set(extras), key=lambda e: e.name))
