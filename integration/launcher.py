"""Bring engines up, report on them and take them down.

``up`` attaches when possible (an engine URL in the environment, or the right
engine already answering on the port). Otherwise the runtime decides (``auto``
unless ``TANDEM_ENGINE_PROVIDER`` or ``--runtime`` says ``process`` or
``docker``): ``auto`` uses testcontainers where a Docker engine answers and has
the image or can pull it, and runs the engine from its Maven Central zip as a
local process otherwise, saying which and why; ``docker`` never falls back.

Every engine started is recorded in its instance folder with its owner (the
launcher's ``owner``): ``down`` stops only its own owner's engines unless told
to stop everything.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tandem.plugin.engines.kinds import EngineKind

from . import containers, probe
from .config import InstanceLayout, StartOptions, write_instance_config
from .errors import (
    EngineError,
    EngineStartError,
    EngineUnreachableError,
    PortInUseError,
)
from .extras import Extra, check_extras
from .handle import EngineHandle, load_handle
from .install import Prepared, prepare
from .paths import engines_dir
from .process import (
    chown_tree,
    ensure_service_user,
    group_alive,
    spawn,
    start_ticks,
    stop_group,
    tail,
)
from .specs import EngineSpec, engine_spec

Progress = Callable[[str], None]
RUNTIMES = ("auto", "process", "docker")
PROCESS_HINT = "--runtime process (TANDEM_ENGINE_PROVIDER=process)"
ContainerStarter = Callable[[EngineSpec, str], EngineHandle]
ImageCheck = Callable[[str], "str | None"]
ProcessStarter = Callable[[EngineSpec, StartOptions], EngineHandle]


@dataclass(frozen=True)
class EngineStatus:
    name: str
    url: str
    origin: str
    state: str
    health: str | None
    pid: int | None
    log: str | None
    started_by: str | None = None
    # What the engine reports in _cat/plugins (opensearch-ml with --with ml); None if it
    # does not answer.
    plugins: list[str] | None = None
    # Nodes in the cluster (None if it does not answer), and of a local cluster's node
    # processes, how many are running.
    nodes: int | None = None
    processes: str | None = None


@dataclass(frozen=True)
class DownReport:
    """What ``down`` stopped, and the engines it left because another owner started them."""

    stopped: list[str]
    kept: list[EngineHandle]


def _quiet(_: str) -> None:
    return None


def default_owner() -> str:
    """This process, as an engine's ``started_by``: ``tandem (pid 4242)``."""
    program = Path(sys.argv[0])
    name = program.parent.name if program.name == "__main__.py" else program.name  # python -m
    if not name or name.startswith("-"):  # python -c, or an interactive session
        name = "python"
    return f"{name} (pid {os.getpid()})"


class Launcher:
    """Starts, attaches to and stops engines under one engines directory.

    ``owner`` is recorded in the state of every engine this launcher starts
    (``tandem engines up`` passes its own name). ``start_container`` and
    ``start_process`` replace the two ways of starting an engine (tests).
    """

    def __init__(
        self,
        root: Path | None = None,
        progress: Progress = _quiet,
        provider: str | None = None,
        owner: str | None = None,
        start_container: ContainerStarter | None = None,
        start_process: ProcessStarter | None = None,
        image_problem: ImageCheck | None = None,
    ) -> None:
        self.root = root or engines_dir()
        self.progress = progress
        self.owner = owner or default_owner()
        self._start_container = start_container or containers.start
        self._start_local = start_process or self._start_process
        self._image_problem = image_problem or containers.image_problem
        self.provider = provider or os.environ.get("TANDEM_ENGINE_PROVIDER", "auto")
        if self.provider not in RUNTIMES:
            raise ValueError(
                f"TANDEM_ENGINE_PROVIDER must be auto, process or docker, got {self.provider!r}"
            )
        self._popens: dict[int, subprocess.Popen[bytes]] = {}

    # -- up -------------------------------------------------------------

    def up(
        self,
        kind: EngineKind,
        version: str | None = None,
        port: int | None = None,
        options: StartOptions | None = None,
        extras: tuple[Extra, ...] = (),
        image: str | None = None,
        nodes: int = 1,
    ) -> EngineHandle:
        """Return a healthy engine of ``kind``, attaching or starting as needed.

        ``extras`` (ML Commons) are installed into a home of their own; an engine that is
        attached to must already have them. ``image`` is the repository of a container
        (tagged with the version; default: the official one). ``nodes`` above 1 starts a
        local cluster of that many processes on consecutive ports.
        """
        extras = check_extras(kind, extras)
        env_url = os.environ.get(kind.url_env)
        if env_url:
            return self._attach_env(kind, version, env_url, extras)
        spec = engine_spec(kind, version, port, extras, nodes)
        attached = self._attach_port(spec, explicit_version=version is not None)
        if attached is not None:
            return attached
        options = options or StartOptions()
        if self._use_docker(spec):
            return self._up_container(spec, options, containers.image(spec, image))
        return self._start_local(spec, options)

    def _up_container(self, spec: EngineSpec, options: StartOptions, image: str) -> EngineHandle:
        """A container; a local process instead when Docker cannot start one (provider auto)."""
        problem = self._image_problem(image)
        if problem is not None:
            return self._without_container(
                spec,
                options,
                f"Docker has no {image} and cannot pull it: {problem}",
                f"Build one with 'tandem engines image {spec.kind.value}' and pass --image, "
                "docker load or docker tag one",
            )
        self.progress(f"starting {spec.kind.label} {spec.version} in a container from {image}")
        failure: str | None = None
        try:
            handle = self._start_container(spec, image)
        except containers.docker_errors() as err:  # decided outside, so no chained traceback
            failure = f"Docker could not start {image}: {containers.describe_error(err)}"
        if failure is not None:
            return self._without_container(
                spec,
                options,
                failure,
                "Make the image available to the Docker engine (docker pull, docker load, or "
                "docker tag a local build)",
            )
        # Recorded like a process, so that `down` finds it and removes it by id.
        layout = InstanceLayout(self._instance_dir(spec))
        layout.root.mkdir(parents=True, exist_ok=True)
        handle = dataclasses.replace(handle, instance=layout.root.name, started_by=self.owner)
        handle.save(layout.state_file)
        return handle

    def _without_container(
        self, spec: EngineSpec, options: StartOptions, failure: str, advice: str
    ) -> EngineHandle:
        """Docker could not give ``spec`` a container: under ``--runtime docker`` an error
        with ``advice``; under ``auto`` a local process, saying why."""
        if self.provider == "docker":
            raise EngineStartError(
                f"{failure}. {advice}, or run engines as local processes: {PROCESS_HINT}"
            )
        self.progress(
            f"{failure}; running {spec.kind.label} {spec.version} as a local process instead "
            f"({PROCESS_HINT} skips Docker)"
        )
        return self._start_local(spec, options)

    def _use_docker(self, spec: EngineSpec) -> bool:
        if self.provider == "process":
            return False
        if spec.nodes > 1:
            if self.provider == "docker":
                raise EngineError(
                    "a local cluster (--nodes) runs only as local processes, not with Docker; "
                    "use --runtime process (or auto)"
                )
            return False
        if spec.extras:
            # The container path passes no node settings, and ML Commons needs some.
            names = ", ".join(e.label for e in spec.extras)
            if self.provider == "docker":
                raise EngineError(
                    f"{names} run only as a local process, not with Docker; "
                    "use --runtime process (or auto)"
                )
            return False
        available = containers.docker_available()
        if self.provider == "docker" and not available:
            raise EngineError(
                "the docker runtime was asked for (--runtime docker, or "
                f"TANDEM_ENGINE_PROVIDER=docker) but no Docker engine answers; start Docker or "
                f"use {PROCESS_HINT}"
            )
        if not available:
            self.progress(
                f"no Docker engine answers: running {spec.kind.label} {spec.version} as a "
                "local process"
            )
        return available

    def _attach_env(
        self, kind: EngineKind, version: str | None, url: str, extras: tuple[Extra, ...]
    ) -> EngineHandle:
        shown = probe.redact(url)
        try:
            identity = probe.identify(url)
        except probe.NotAnEngine as err:
            raise EngineUnreachableError(f"{kind.url_env}={shown}: {err}") from None
        if identity is None:
            raise EngineUnreachableError(
                f"{kind.url_env}={shown} does not answer; start that engine or unset the variable"
            )
        if identity.kind is not kind:
            raise EngineUnreachableError(
                f"{kind.url_env}={shown} is {identity.kind.label} {identity.version}, "
                f"not {kind.label}"
            )
        if version is not None and identity.version != version:
            raise EngineUnreachableError(
                f"{kind.url_env}={shown} runs {identity.version}, but --version {version} was asked"
            )
        lacking = _lacking_extras(extras, url)
        if lacking:
            raise EngineUnreachableError(
                f"{kind.url_env}={shown} has no {lacking}, which was asked for; install it "
                "there, or unset the variable to let Tandem start an engine with it"
            )
        self.progress(f"attached to {kind.label} {identity.version} at {shown} ({kind.url_env})")
        return EngineHandle(kind, identity.version, url, "attached")

    def _attach_port(self, spec: EngineSpec, explicit_version: bool) -> EngineHandle | None:
        try:
            identity = probe.identify(spec.url)
        except probe.NotAnEngine as err:
            raise PortInUseError(
                f"port {spec.http_port} is in use by something that is not an engine ({err}); "
                f"free it or pass --port"
            ) from None
        if identity is None:
            ports = [port for node in range(spec.nodes) for port in spec.ports(node)]
            for port in ports:
                if not probe.port_is_free(port):
                    raise PortInUseError(
                        f"port {port} (needed by {spec.kind.label} {spec.version}) is in use by "
                        f"another process; free it or pass --port"
                    )
            return None
        if identity.kind is not spec.kind or (
            explicit_version and identity.version != spec.version
        ):
            raise PortInUseError(
                f"port {spec.http_port} answers with {identity.kind.label} {identity.version}, "
                f"not {spec.kind.label} {spec.version}; stop it or pass --port"
            )
        lacking = _lacking_extras(spec.extras, spec.url)
        if lacking:
            raise PortInUseError(
                f"port {spec.http_port} answers with {identity.kind.label} {identity.version} "
                f"without {lacking}; stop it or pass --port"
            )
        # Attached, even if an earlier `up` started it: only `down` stops it then.
        state = load_handle(self._instance_dir(spec) / "state.json")
        known = state is not None and state.url == spec.url
        joined = probe.node_count(spec.url)
        if joined is not None and joined != spec.nodes:
            what = f"a {joined}-node {identity.kind.label} {identity.version}"
            if known and joined < spec.nodes:
                raise PortInUseError(
                    f"port {spec.http_port} answers with {what}: a node of the {spec.nodes}-node "
                    f"cluster started there has stopped. 'tandem engines down --port "
                    f"{spec.http_port} --all' and up again restart it on its data"
                )
            raise PortInUseError(
                f"port {spec.http_port} answers with {what}, not {spec.nodes} nodes; stop it "
                "or pass --port"
            )
        self.progress(f"attached to {identity.kind.label} {identity.version} already on {spec.url}")
        return EngineHandle(
            spec.kind,
            identity.version,
            spec.url,
            "attached",
            pid=state.pid if state and known else None,
            log=state.log if state and known else None,
            extras=tuple(e.name for e in spec.extras),
            nodes=spec.nodes,
            peers=state.peers if state and known else (),
        )

    def _instance_dir(self, spec: EngineSpec) -> Path:
        return self.root / "instances" / spec.instance

    def _start_process(self, spec: EngineSpec, options: StartOptions) -> EngineHandle:
        root = InstanceLayout(self._instance_dir(spec))
        root.logs.mkdir(parents=True, exist_ok=True)
        prepared = prepare(spec, self.root, root.logs / "setup.log", self.progress)
        user = ensure_service_user() if os.geteuid() == 0 else None
        # A cluster's nodes each get a folder of their own under the instance.
        layouts = (
            [root]
            if spec.nodes == 1
            else [InstanceLayout(root.root / f"node-{n}") for n in range(spec.nodes)]
        )
        where = spec.url if spec.nodes == 1 else f"{spec.nodes} nodes from {spec.url}"
        self.progress(f"starting {spec.kind.label} {spec.version} on {where}")
        popens = [
            self._spawn_node(spec, prepared, layout, node, options, user)
            for node, layout in enumerate(layouts)
        ]
        logs = [layout.server_log(spec) for layout in layouts]

        def describe(what: str) -> str:
            for popen in popens:
                popen.poll()
            gone = next((n for n, p in enumerate(popens) if p.returncode is not None), 0)
            layout = layouts[gone]
            code = popens[gone].returncode
            node = f" node {gone}" if spec.nodes > 1 else ""
            excerpt = tail(logs[gone]) or tail(layout.stdout_log)
            return (
                f"{spec.kind.label} {spec.version}{node} {what}"
                + (f" (exit code {code})" if code is not None else "")
                + f". Logs: {logs[gone]} and {layout.stdout_log}."
                + (f"\nLast lines:\n{excerpt}" if excerpt else "")
            )

        started = time.monotonic()
        try:
            probe.wait_healthy(
                spec.url,
                options.timeout,
                lambda: all(p.poll() is None for p in popens),
                describe,
                nodes=spec.nodes,
            )
        except EngineStartError:
            _stop_all([(p.pid, p) for p in popens], grace=10)
            raise
        processes = [(p.pid, start_ticks(p.pid)) for p in popens]
        handle = EngineHandle(
            spec.kind,
            spec.version,
            spec.url,
            "started",
            popens[0].pid,
            str(logs[0]),
            instance=root.root.name,
            pid_start=processes[0][1],
            started_by=self.owner,
            extras=tuple(e.name for e in spec.extras),
            nodes=spec.nodes,
            peers=tuple(processes[1:]),
        )
        handle.save(root.state_file)
        self.progress(
            f"{spec.kind.label} {spec.version} healthy after {time.monotonic() - started:.0f}s"
            + (f" with {spec.nodes} nodes" if spec.nodes > 1 else "")
        )
        return handle

    def _spawn_node(
        self,
        spec: EngineSpec,
        prepared: Prepared,
        layout: InstanceLayout,
        node: int,
        options: StartOptions,
        user: pwd.struct_passwd | None,
    ) -> subprocess.Popen[bytes]:
        jdk = prepared.jdk
        layout.logs.mkdir(parents=True, exist_ok=True)
        write_instance_config(spec, prepared.home, layout, options, jdk, prepared.jvm_extra, node)
        if user is not None:
            chown_tree(layout.root, user)
        env = {
            "PATH": f"{jdk.home / 'bin'}:/usr/bin:/bin",
            spec.java_home_env: str(jdk.home),
            spec.conf_env: str(layout.config),
            "HOME": str(layout.root),
            "LANG": "C.UTF-8",
        }
        # cwd is the instance: jvm.options writes logs/gc.log and heap dumps relative to it.
        executable = prepared.home / spec.executable
        popen = spawn([str(executable)], env, layout.root, layout.stdout_log, user)
        self._popens[popen.pid] = popen
        return popen

    # -- status and down ------------------------------------------------

    def _state_files(self) -> list[Path]:
        return sorted((self.root / "instances").glob("*/state.json"))

    def handles(self) -> list[EngineHandle]:
        """Engines this engines directory started (running or not), plus env attachments."""
        found = [h for h in (load_handle(p) for p in self._state_files()) if h is not None]
        for kind in EngineKind:
            url = os.environ.get(kind.url_env)
            if url:
                found.append(EngineHandle(kind, "?", url, "attached"))
        return found

    def status(self) -> list[EngineStatus]:
        rows = []
        for handle in self.handles():
            health = probe.cluster_health(handle.url)
            if handle.origin == "attached":
                state = "reachable" if health else "unreachable"
            elif handle.origin == "container":  # no process of ours to look at
                state = "running" if health else "unreachable"
            else:
                alive = _running(handle)
                total = len(handle.processes)
                state = (
                    "stopped"
                    if not alive
                    else "starting"
                    if not health
                    else "running"
                    if alive == total
                    else "degraded"
                )
            rows.append(
                EngineStatus(
                    handle.name,
                    probe.redact(handle.url),
                    handle.origin,
                    state,
                    health,
                    handle.pid,
                    handle.log,
                    handle.started_by,
                    probe.plugin_names(handle.url) if health else None,
                    probe.node_count(handle.url) if health else None,
                    f"{_running(handle)}/{len(handle.processes)}" if handle.nodes > 1 else None,
                )
            )
        return rows

    def stop(self, handle: EngineHandle, grace: float = 60.0) -> None:
        """Stop an engine this launcher started; attached engines are left alone."""
        if handle.origin == "container" and handle.container_id:
            containers.stop(handle.container_id)
        elif handle.origin == "started" and handle.pid is not None:
            owned = [pid for pid, ticks in handle.processes if _owns(pid, ticks)]
            if owned:
                groups = ", ".join(str(pid) for pid in owned)
                plural = "s" if len(owned) > 1 else ""
                self.progress(f"stopping {handle.name} (process group{plural} {groups})")
                clean = _stop_all([(pid, self._popens.pop(pid, None)) for pid in owned], grace)
                if not clean:
                    self.progress(f"{handle.name} ignored SIGTERM for {grace:.0f}s and was killed")
            else:
                self.progress(f"{handle.name} was no longer running; forgetting it")
        else:
            return
        if handle.instance:
            (self.root / "instances" / handle.instance / "state.json").unlink(missing_ok=True)

    def down(
        self,
        kinds: tuple[EngineKind, ...] = tuple(EngineKind),
        port: int | None = None,
        everything: bool = False,
    ) -> DownReport:
        """Stop the engines of ``kinds`` (on ``port``, if given) that this launcher's owner
        started in this directory; with ``everything``, those of every owner too."""
        stopped, kept = [], []
        for path in self._state_files():
            handle = load_handle(path)
            if handle is None or handle.kind not in kinds:
                continue
            if port is not None and handle.port != port:
                continue
            if not everything and handle.started_by != self.owner:
                kept.append(handle)
                continue
            self.stop(handle)
            stopped.append(handle.name)
        return DownReport(stopped, kept)


def _lacking_extras(extras: tuple[Extra, ...], url: str) -> str | None:
    """The labels of the ``extras`` whose plugin the engine at ``url`` lacks, or ``None``."""
    if not extras:
        return None
    plugins = probe.plugin_names(url) or []
    lacking = [e.label for e in extras if e.plugin not in plugins]
    return ", ".join(lacking) or None


def _owns(pid: int, ticks: int | None) -> bool:
    """Whether process group ``pid`` still runs, and is still the engine node.

    A state file can outlive its engine (a reboot, a kill -9); the recorded
    start time keeps ``down`` from signalling an unrelated process that has
    since been given the same pid.
    """
    if not group_alive(pid):
        return False
    return ticks is None or start_ticks(pid) == ticks


def _running(handle: EngineHandle) -> int:
    """How many of the handle's node processes still run."""
    return sum(_owns(pid, ticks) for pid, ticks in handle.processes)


def _stop_all(groups: list[tuple[int, subprocess.Popen[bytes] | None]], grace: float) -> bool:
    """Stop process groups side by side (a cluster's nodes); whether all stopped cleanly."""
    with ThreadPoolExecutor(max(1, len(groups))) as pool:
        return all(pool.map(lambda group: stop_group(group[0], grace, group[1]), groups))
