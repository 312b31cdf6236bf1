"""``tandem engines up|status|down|info``: run real engines and see what they can do."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from tandem.integration.config import StartOptions, parse_heap, parse_setting
from tandem.integration.errors import EngineError
from tandem.integration.extras import EXTRAS, check_extras
from tandem.integration.images import DEFAULT_BASE
from tandem.integration.launcher import RUNTIMES, Launcher
from tandem.integration.specs import MAX_NODES, parse_kind
from tandem.plugin.engines.base import Capabilities
from tandem.plugin.engines.capabilities import capabilities_json
from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.engines.targets import engine_url

_WHICH = ["opensearch", "elasticsearch", "all"]
# The owner recorded for engines that `tandem engines up` starts; bare `down` stops only these.
ENGINES_UP = "tandem engines up"
T = TypeVar("T")


# What the launcher raises; main() prints it as one line.
ERRORS: tuple[type[Exception], ...] = (EngineError,)


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Let argparse show a parser's own ValueError message instead of 'invalid value'."""

    def wrapped(text: str) -> T:
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    wrapped.__name__ = parse.__name__
    return wrapped


def register(commands: Any) -> None:
    parser = commands.add_parser("engines", help="start, inspect and stop local search engines")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    up = verbs.add_parser(
        "up",
        help="start engines (or attach to running ones)",
        description=(
            "Start OpenSearch and/or Elasticsearch from Maven Central artifacts as local "
            "processes, or in containers with testcontainers. Attaches instead when "
            "TANDEM_OPENSEARCH_URL / TANDEM_ELASTICSEARCH_URL is set or the engine already "
            "answers on its port."
        ),
    )
    up.add_argument("which", nargs="?", default="all", choices=_WHICH)
    up.add_argument("--version", help="engine version, e.g. 3.6.0 (only with one engine)")
    up.add_argument("--port", type=int, help="HTTP port (transport port is HTTP + 100)")
    up.add_argument(
        "--nodes",
        type=_argument(_nodes),
        default=1,
        help=(
            f"start a local cluster of this many nodes, 2 to {MAX_NODES}, as local processes; "
            "node i listens on PORT + i (default 1: a single node)"
        ),
    )
    up.add_argument(
        "--heap",
        default="512m",
        type=_argument(parse_heap),
        help="JVM heap, at most 1g (default 512m)",
    )
    up.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for health")
    up.add_argument(
        "--setting",
        action="append",
        default=[],
        type=_argument(parse_setting),
        metavar="KEY=VALUE",
        help="extra node setting for a started engine (repeatable)",
    )
    up.add_argument(
        "--with",
        dest="extras",
        action="append",
        default=[],
        choices=sorted(EXTRAS),
        help=(
            "also install a plugin set, OpenSearch only (repeatable): ml = ML Commons with "
            "job-scheduler, for remote models in ingest pipelines and neural queries; "
            "installed in a home of its own"
        ),
    )
    up.add_argument(
        "--runtime",
        choices=RUNTIMES,
        help=(
            "auto: a container where Docker answers and has or can pull the image, else a "
            "local process (and says which); process; docker: containers only "
            "(default: TANDEM_ENGINE_PROVIDER, else auto)"
        ),
    )
    up.add_argument(
        "--image",
        metavar="REPOSITORY",
        help=(
            "container image repository, tagged with the version (only with one engine; "
            "default: TANDEM_OPENSEARCH_IMAGE / TANDEM_ELASTICSEARCH_IMAGE, else the official "
            "image; 'tandem engines image' builds one)"
        ),
    )
    up.set_defaults(handler=_up)

    image = verbs.add_parser(
        "image",
        help="build a Docker image of an engine from its Maven Central artifacts",
        description=(
            "Build a container image of OpenSearch or Elasticsearch from the same Maven "
            "Central artifacts and JDK that 'tandem engines up' runs as a local process, for "
            "machines that reach no container registry. The image takes the official "
            "images' environment (discovery.type, OPENSEARCH_JAVA_OPTS / ES_JAVA_OPTS, "
            "xpack.security.enabled, ELASTIC_PASSWORD): see docs/engines.md."
        ),
    )
    image.add_argument("which", choices=_WHICH[:2], metavar="{opensearch,elasticsearch}")
    image.add_argument("--version", help="engine version (default: the newest supported)")
    image.add_argument(
        "--repository",
        help="image repository; the tag is the version (default: tandem/<engine>)",
    )
    image.add_argument(
        "--base",
        default=DEFAULT_BASE,
        help=f"a Debian-family base image with bash (default {DEFAULT_BASE})",
    )
    image.set_defaults(handler=_image)

    status = verbs.add_parser("status", help="list engines and their health")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_status)

    down = verbs.add_parser(
        "down",
        help="stop engines that 'tandem engines up' started (--all: every engine in the folder)",
        description=(
            "Stop the engines that 'tandem engines up' started in the engines folder "
            "(TANDEM_ENGINES_DIR). Engines that another program started there (the pytest "
            "fixtures, tandem demo, benchmarks) keep running unless --all is given. Engines "
            "that were only attached to are never stopped."
        ),
    )
    down.add_argument(
        "which", nargs="?", default="all", choices=_WHICH, help="engine kind (all: both kinds)"
    )
    down.add_argument("--port", type=int, help="only the engine on this HTTP port")
    down.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="also stop engines that other programs started in the engines folder",
    )
    down.set_defaults(handler=_down)

    info = verbs.add_parser(
        "info",
        help="show what an engine can do (version, plugins, licence, features)",
        description=(
            "Detect an engine's capabilities the way the sidecar does on start. URL defaults "
            "to TANDEM_OPENSEARCH_URL, then the default OpenSearch URL; credentials may be "
            "in it (http://user:pass@host:9200)."
        ),
    )
    info.add_argument(
        "url", nargs="?", metavar="URL", help="engine URL, or opensearch / elasticsearch"
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    info.set_defaults(handler=_info)


def _nodes(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"--nodes takes a whole number, got {text!r}") from None
    if not 1 <= count <= MAX_NODES:
        raise ValueError(f"--nodes must be between 1 and {MAX_NODES}, got {count}")
    return count


def _kinds(which: str) -> tuple[EngineKind, ...]:
    return tuple(EngineKind) if which == "all" else (parse_kind(which),)


def _say(message: str) -> None:
    print(f"· {message}", file=sys.stderr, flush=True)


def _up(args: argparse.Namespace) -> int:
    kinds = _kinds(args.which)
    if len(kinds) > 1 and (args.version or args.port or args.image):
        raise ValueError(
            "--version, --port and --image need one engine: "
            "'tandem engines up opensearch --version 3.6.0'"
        )
    extras = tuple(EXTRAS[name] for name in args.extras)
    for kind in kinds:  # before anything starts
        check_extras(kind, extras)
    launcher = Launcher(progress=_say, provider=args.runtime, owner=ENGINES_UP)
    options = StartOptions(heap=args.heap, timeout=args.timeout, settings=tuple(args.setting))
    for kind in kinds:
        handle = launcher.up(
            kind, args.version, args.port, options, extras, args.image, nodes=args.nodes
        )
        print(f"{handle.name}\t{handle.url}\t{handle.origin}")
    return 0


def _image(args: argparse.Namespace) -> int:
    from tandem.integration.images import build_image, default_repository
    from tandem.integration.paths import engines_dir
    from tandem.integration.specs import engine_spec

    spec = engine_spec(parse_kind(args.which), args.version, None, ())
    repository = args.repository or default_repository(spec.kind)
    tag = f"{repository}:{spec.version}"
    build_image(spec, engines_dir(), tag, args.base, _say)
    _say(
        f"built {tag}; run it with 'tandem engines up {spec.kind.value} --version "
        f"{spec.version} --runtime docker --image {repository}' or in compose.yaml "
        f"({spec.kind.value.upper()}_IMAGE={repository})"
    )
    print(tag)
    return 0


def _status(args: argparse.Namespace) -> int:
    rows = Launcher().status()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    if not rows:
        print("no engines: start them with 'tandem engines up'")
        return 0
    plugins = [_short_plugins(r.plugins) for r in rows]
    name_w = max(22, *(len(r.name) for r in rows))
    plugins_w = max(len("PLUGINS"), *(len(p) for p in plugins))
    print(
        f"{'ENGINE':<{name_w}} {'URL':<24} {'ORIGIN':<10} {'STATE':<11} {'HEALTH':<7} "
        f"{'NODES':<11} {'PLUGINS':<{plugins_w}} LOG"
    )
    for r, shown in zip(rows, plugins, strict=True):
        health = r.health or "-"
        nodes = "-" if r.nodes is None else str(r.nodes)
        if r.processes:
            nodes += f" ({r.processes} up)"  # of a local cluster's processes
        print(
            f"{r.name:<{name_w}} {r.url:<24} {r.origin:<10} {r.state:<11} {health:<7} "
            f"{nodes:<11} {shown:<{plugins_w}} {r.log or '-'}"
        )
    return 0


def _short_plugins(plugins: list[str] | None) -> str:
    """``knn,ml,neural-search``: the engine's plugins without the ``opensearch-`` prefix."""
    if not plugins:
        return "-"
    return ",".join(sorted(p.removeprefix("opensearch-") for p in plugins))


def _down(args: argparse.Namespace) -> int:
    launcher = Launcher(progress=_say, owner=ENGINES_UP)
    report = launcher.down(_kinds(args.which), args.port, everything=args.everything)
    for handle in report.kept:
        _say(
            f"left {handle.name} on {handle.url} running: started by "
            f"{handle.started_by or 'an unknown program'}, not by '{ENGINES_UP}' "
            "('tandem engines down --all' stops it too)"
        )
    nothing = "nothing" if report.kept else "nothing was running"
    stopped = ", ".join(report.stopped) if report.stopped else nothing
    print(f"stopped: {stopped}")
    return 0


def _info(args: argparse.Namespace) -> int:
    adapter = connect(engine_url(args.url or EngineKind.OPENSEARCH.value), timeout=args.timeout)
    try:
        caps = adapter.capabilities
        if args.json:
            print(json.dumps({"url": adapter.url, **capabilities_json(caps)}, indent=2))
        else:
            print(_describe(adapter.url, caps))
    finally:
        adapter.close()
    return 0


_FEATURES = (
    "dense",
    "knn_engines",
    "rank_features",
    "sparse_vector",
    "neural_sparse",
    "hybrid_query",
    "normalization_techniques",
    "rrf_pipeline",
    "retrievers",
)


def _describe(url: str, caps: Capabilities) -> str:
    plugins = textwrap.fill(
        ", ".join(sorted(caps.plugins)) or "-", width=72, break_on_hyphens=False
    )
    lines = [
        f"{'engine':<26} {caps.label} at {url}",
        f"{'build type':<26} {caps.build_type}",
        f"{'licence':<26} {caps.license or '-'}",
        f"{'plugins and modules':<26} " + plugins.replace("\n", "\n" + " " * 27),
    ]
    for name in _FEATURES:
        value = getattr(caps, name)
        shown = ", ".join(value) if isinstance(value, tuple) else ""
        yes = "yes" if value else "no"
        lines.append(f"{name:<26} {yes}" + (f" ({shown})" if shown else ""))
    return "\n".join(lines)
