"""The layering rules of docs/architecture.md, read from the imports in the source files.

Every ``import`` and ``from ... import`` (relative ones resolved) is collected
with :mod:`ast`, with the function it sits in, so a rule can allow one lazy
import in one place and nothing else. ``check`` returns the violations; the
tests assert there are none, and feed it hand-made import tables that break
each rule to show that it would notice.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tandem.plugin.cli import SERVER_EXTRA

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
# Folder -> package, longest first (plugin/client is the tandem.client package).
ROOTS = (
    ("plugin/client", "tandem.client"),
    ("plugin/frameworks", "tandem.frameworks"),
    ("proto/tandem/v1", "tandem.v1"),
    ("plugin", "tandem.plugin"),
    ("encoders", "tandem.encoders"),
    ("integration", "tandem.integration"),
)
HEAVY = ("onnxruntime", "tokenizers", "numpy")
# The framework retrievers run on a client-only install: nothing the server extra brings.
SERVER_SIDE = ("tandem.encoders", "tandem.plugin.server", "tandem.plugin.cli")
FRAMEWORKS = ("langchain", "llamaindex", "haystack")

# Floors from the ground up; an import may point to its own floor or below.
FLOORS = {
    "tandem.plugin.cli": 5,
    "tandem.plugin.server": 4,
    "tandem.plugin.demo": 4,
    "tandem.plugin.evaluation": 4,
    "tandem.plugin.search": 3,
    "tandem.plugin.enrich": 3,
    "tandem.plugin.ingest": 3,
    "tandem.plugin.distributed": 3,
    "tandem.plugin.index": 2,
    "tandem.plugin.engines": 1,
    "tandem.encoders": 1,
    "tandem.v1": 1,
}
# Where the launcher (tandem.integration) may be used from the core: module -> functions
# (None: anywhere in the module).
LAUNCHER_USERS: dict[str, frozenset[str] | None] = {
    "tandem.plugin.cli.engines": None,
    "tandem.plugin.demo.app": frozenset({"start_local_engine"}),
}


@dataclass(frozen=True)
class Import:
    importer: str  # module doing the import
    target: str  # absolute module (or module.name) imported
    function: str | None  # enclosing function, None at module level
    type_only: bool = False  # inside ``if TYPE_CHECKING:``


def module_of(path: Path) -> str:
    rel = path.relative_to(REPO).as_posix()
    for folder, package in ROOTS:
        if rel.startswith(folder + "/"):
            parts = rel[len(folder) + 1 : -len(".py")].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            return ".".join([package, *parts])
    raise ValueError(f"{rel} is outside the packages")


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, name] if name else base)


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.found: list[Import] = []
        self.function: str | None = None
        self.type_only = False

    def _add(self, target: str) -> None:
        self.found.append(Import(self.module, target, self.function, self.type_only))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, self.function or node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            outer, self.type_only = self.type_only, True
            for child in node.body:
                self.visit(child)
            self.type_only = outer
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = _resolve(self.module, self.is_package, node.level, node.module)
        else:
            base = node.module or ""
        for alias in node.names:
            # ``from . import convert`` imports a module; ``from .x import y`` a name in x.
            self._add(f"{base}.{alias.name}" if not node.module else base)


def collect(repo: Path = REPO) -> list[Import]:
    imports: list[Import] = []
    for folder, _ in ROOTS:
        for path in sorted((repo / folder).rglob("*.py")):
            if "_pb2" in path.name:
                continue
            module = module_of(path)
            collector = _Collector(module, path.name == "__init__.py")
            collector.visit(ast.parse(path.read_text(), str(path)))
            imports.extend(collector.found)
    return imports


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _floor(module: str) -> int | None:
    for package, floor in FLOORS.items():
        if _within(module, package):
            return floor
    return None


def _closure(imports: list[Import], start: str) -> set[str]:
    """Modules that ``import start`` loads (module-level imports, transitively)."""
    eager: dict[str, set[str]] = {}
    for imp in imports:
        if imp.function is None and not imp.type_only:
            eager.setdefault(imp.importer, set()).add(imp.target)
    known = {imp.importer for imp in imports}
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        # A module's packages run their __init__ first.
        todo.extend(p for i in range(1, len(parts)) if (p := ".".join(parts[:i])) in known)
        todo.extend(eager.get(module, ()))
    return seen


def check(imports: list[Import]) -> list[str]:
    """Every broken rule, one line each."""
    problems: list[str] = []
    for imp in imports:
        where = f"{imp.importer}" + (f" ({imp.function})" if imp.function else "")
        if _within(imp.importer, "tandem.encoders") and (
            _within(imp.target, "tandem.plugin") or _within(imp.target, "tandem.integration")
        ):
            problems.append(f"{where} imports {imp.target}: encoders stand on their own")
        if (
            _within(imp.importer, "tandem.plugin")
            and not _within(imp.importer, "tandem.plugin.cli")
            and _within(imp.target, "tandem.plugin.cli")
        ):
            problems.append(f"{where} imports {imp.target}: only the CLI imports the CLI")
        if _within(imp.importer, "tandem.plugin") and _within(imp.target, "tandem.integration"):
            allowed = LAUNCHER_USERS.get(imp.importer, frozenset())
            if allowed is not None and imp.function not in allowed:
                problems.append(
                    f"{where} imports {imp.target}: the launcher is for the CLI's engines "
                    "commands and the demo's start_local_engine only"
                )
        low, high = _floor(imp.target), _floor(imp.importer)
        if low is not None and high is not None and low > high:
            problems.append(f"{where} imports {imp.target}: floor {high} reaches up to {low}")
        if _within(imp.importer, "tandem.client") and (
            _within(imp.target, "tandem.encoders") or imp.target.split(".")[0] == "onnxruntime"
        ):
            problems.append(f"{where} imports {imp.target}: the client stays light")
    for module in sorted(_closure(imports, "tandem.client")):
        if _within(module, "tandem.encoders") or module.split(".")[0] in HEAVY:
            problems.append(f"import tandem.client loads {module}")
    retrievers = sorted({i.importer for i in imports if _within(i.importer, "tandem.frameworks")})
    for start in retrievers:
        for module in sorted(_closure(imports, start)):
            if _server_side(module):
                problems.append(
                    f"import {start} loads {module}: the retrievers run without the server extra"
                )
    return problems


# grpc's own __init__ imports the grpc_reflection package where it is installed.
_LOADED_BY_GRPC = frozenset({"grpc_reflection"})


def _server_side(module: str) -> bool:
    top = module.split(".")[0]
    if top in SERVER_EXTRA - _LOADED_BY_GRPC:
        return True
    return any(_within(module, p) for p in SERVER_SIDE)


def test_the_source_tree_keeps_every_layering_rule() -> None:
    assert check(collect()) == []


def test_relative_imports_are_resolved() -> None:
    imports = collect()
    assert Import("tandem.plugin.search.searcher", "tandem.plugin.search.fusion", None) in imports
    assert Import("tandem.plugin.server.index_service", "tandem.plugin.server.convert", None) in (
        imports
    )


BROKEN = [
    ("tandem.encoders.sources", "tandem.integration.paths", None, "encoders stand on their own"),
    ("tandem.encoders.loader", "tandem.plugin.index.spec", "load", "encoders stand on their own"),
    ("tandem.plugin.server.settings", "tandem.plugin.cli.targets", "engine_address", "the CLI"),
    ("tandem.plugin.engines.base", "tandem.integration.specs", None, "the launcher"),
    ("tandem.plugin.demo.app", "tandem.integration.launcher", "prepare", "the launcher"),
    ("tandem.plugin.index.mapping", "tandem.plugin.search.names", None, "floor 2 reaches up"),
    ("tandem.plugin.engines.base", "tandem.plugin.ingest.bulk", None, "floor 1 reaches up"),
    ("tandem.client.client", "tandem.encoders.registry", None, "the client stays light"),
    ("tandem.client.client", "onnxruntime", "encode_dense", "the client stays light"),
    ("tandem.frameworks.common", "tandem.plugin.server.convert", None, "without the server"),
    ("tandem.plugin.search.documents", "opensearchpy", None, "without the server extra"),
]


@pytest.mark.parametrize(("importer", "target", "function", "rule"), BROKEN)
def test_each_rule_notices_a_break(
    importer: str, target: str, function: str | None, rule: str
) -> None:
    imports = [*collect(), Import(importer, target, function)]
    problems = check(imports)
    assert any(rule in p and target in p for p in problems), problems


def test_a_heavy_module_pulled_in_by_the_client_is_noticed() -> None:
    imports = [*collect(), Import("tandem.plugin.search.hits", "numpy", None)]
    assert "import tandem.client loads numpy" in check(imports)


def test_the_allowed_launcher_uses_pass() -> None:
    imports = [
        *collect(),
        Import("tandem.plugin.demo.app", "tandem.integration.launcher", "start_local_engine"),
        Import("tandem.plugin.cli.engines", "tandem.integration.launcher", None),
    ]
    assert check(imports) == []


def test_importing_the_client_loads_no_encoder_runtime() -> None:
    """What ``python -X importtime -c "import tandem.client"`` shows, asserted."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import tandem.client"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines()[1:]}
    assert "tandem.client" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or _within(m, "tandem.encoders"))
    assert heavy == []


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_importing_a_retriever_loads_nothing_of_the_server_extra(framework: str) -> None:
    """What ``python -X importtime -c "import tandem.frameworks.X"`` shows, asserted: the
    framework itself and its own dependencies included."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import tandem.frameworks.{framework}"],
        capture_output=True,
        text=True,
    )
    if "tandem-search[" in result.stderr:  # the framework's extra is not installed
        pytest.skip(result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr
    loaded = {line.split("|")[-1].strip() for line in result.stderr.splitlines()[1:]}
    assert f"tandem.frameworks.{framework}" in loaded
    assert sorted(m for m in loaded if _server_side(m)) == []
