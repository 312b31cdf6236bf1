from __future__ import annotations

import pytest

from tandem.integration.pom import Pom, PomError, parse_pom, runtime_dependencies
from tandem.integration.specs import MavenArtifact


def _pom(
    coordinates: str, dependencies: str = "", extra: str = "", parent: str | None = None
) -> str:
    group, artifact, version = coordinates.split(":")
    parent_xml = ""
    if parent is not None:
        pg, pa, pv = parent.split(":")
        parent_xml = (
            f"<parent><groupId>{pg}</groupId><artifactId>{pa}</artifactId>"
            f"<version>{pv}</version></parent>"
        )
    return f"""<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  {parent_xml}<groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
  {extra}<dependencies>{dependencies}</dependencies>
</project>"""


def _dep(coordinates: str, *, scope: str = "", more: str = "") -> str:
    group, artifact, version = coordinates.split(":")
    scope_xml = f"<scope>{scope}</scope>" if scope else ""
    return (
        f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version>{scope_xml}{more}</dependency>"
    )


def _loader(poms: dict[str, str]):  # type: ignore[no-untyped-def]
    def load(artifact: MavenArtifact) -> Pom:
        key = f"{artifact.group}:{artifact.artifact}:{artifact.version}"
        return parse_pom(poms[key], key)

    return load


ROOT = MavenArtifact("org.opensearch.plugin", "lang-painless", "2.19.6", "jar")


def _names(found: list[MavenArtifact]) -> list[str]:
    return [f"{a.artifact}-{a.version}.{a.packaging}" for a in found]


def test_the_painless_module_tree_as_published() -> None:
    # The shape of lang-painless 2.19.6 on Maven Central: "*:*" exclusions on its
    # third-party jars, and a SPI that depends on the engine itself.
    no_transitive = (
        "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId>"
        "</exclusion></exclusions>"
    )
    poms = {
        "org.opensearch.plugin:lang-painless:2.19.6": _pom(
            "org.opensearch.plugin:lang-painless:2.19.6",
            _dep("org.antlr:antlr4-runtime:4.13.1", scope="compile", more=no_transitive)
            + _dep("org.ow2.asm:asm-util:9.7", scope="compile", more=no_transitive)
            + _dep("org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.6"),
        ),
        "org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.6": _pom(
            "org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.6",
            _dep("org.opensearch:opensearch:2.19.6", scope="compile"),
        ),
        "org.antlr:antlr4-runtime:4.13.1": _pom("org.antlr:antlr4-runtime:4.13.1"),
        # asm-util depends on asm-tree, but the "*:*" exclusion prunes it.
        "org.ow2.asm:asm-util:9.7": _pom(
            "org.ow2.asm:asm-util:9.7", _dep("org.ow2.asm:asm-tree:9.7")
        ),
    }
    found = runtime_dependencies(ROOT, [("org.opensearch", "*")], _loader(poms))
    assert _names(found) == [
        "lang-painless-2.19.6.jar",
        "antlr4-runtime-4.13.1.jar",
        "asm-util-9.7.jar",
        "opensearch-scripting-painless-spi-2.19.6.jar",
    ]


def test_test_provided_and_optional_dependencies_are_left_out() -> None:
    poms = {
        "org.opensearch.plugin:lang-painless:2.19.6": _pom(
            "org.opensearch.plugin:lang-painless:2.19.6",
            _dep("junit:junit:4.13", scope="test")
            + _dep("javax.servlet:api:3", scope="provided")
            + _dep("org.x:opt:1", more="<optional>true</optional>")
            + _dep("org.x:run:1", scope="runtime"),
        ),
        "org.x:run:1": _pom("org.x:run:1"),
    }
    assert _names(runtime_dependencies(ROOT, [], _loader(poms))) == [
        "lang-painless-2.19.6.jar",
        "run-1.jar",
    ]


def test_nearest_declaration_wins() -> None:
    poms = {
        "org.opensearch.plugin:lang-painless:2.19.6": _pom(
            "org.opensearch.plugin:lang-painless:2.19.6",
            _dep("org.x:a:1") + _dep("org.x:shared:2"),
        ),
        "org.x:a:1": _pom("org.x:a:1", _dep("org.x:shared:1")),
        "org.x:shared:2": _pom("org.x:shared:2"),
    }
    assert "shared-2.jar" in _names(runtime_dependencies(ROOT, [], _loader(poms)))


def test_versions_come_from_properties_and_the_parents_management() -> None:
    management = (
        "<properties><asm.version>9.7</asm.version></properties>"
        "<dependencyManagement><dependencies>"
        + _dep("org.ow2.asm:asm:${asm.version}")
        + "</dependencies></dependencyManagement>"
    )
    poms = {
        "org.opensearch.plugin:lang-painless:2.19.6": _pom(
            "org.opensearch.plugin:lang-painless:2.19.6",
            "<dependency><groupId>org.ow2.asm</groupId><artifactId>asm</artifactId></dependency>"
            + _dep("org.opensearch.plugin:sibling:${project.version}"),
            parent="org.x:parent:5",
        ),
        "org.x:parent:5": _pom("org.x:parent:5", extra=management),
        "org.ow2.asm:asm:9.7": _pom("org.ow2.asm:asm:9.7"),
        "org.opensearch.plugin:sibling:2.19.6": _pom("org.opensearch.plugin:sibling:2.19.6"),
    }
    assert _names(runtime_dependencies(ROOT, [], _loader(poms))) == [
        "lang-painless-2.19.6.jar",
        "asm-9.7.jar",
        "sibling-2.19.6.jar",
    ]


def test_an_unknown_version_names_the_dependency() -> None:
    poms = {
        "org.opensearch.plugin:lang-painless:2.19.6": _pom(
            "org.opensearch.plugin:lang-painless:2.19.6", _dep("org.x:a:${missing}")
        )
    }
    with pytest.raises(PomError, match=r"version of org\.x:a, a dependency of .*lang-painless"):
        runtime_dependencies(ROOT, [], _loader(poms))


@pytest.mark.parametrize(
    ("text", "message"),
    [("<project", "not valid XML"), ("<html/>", "not a Maven POM")],
)
def test_a_broken_pom_is_named(text: str, message: str) -> None:
    with pytest.raises(PomError, match=f"x.pom is {message}"):
        parse_pom(text, "x.pom")
