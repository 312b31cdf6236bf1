"""Download one file from a Maven repository over HTTP(S) and verify it.

The repository is Maven Central unless ``TANDEM_MAVEN_URL`` names a mirror
(``https://user:password@host/path`` sends basic auth; the password is never
printed). Proxies come from the usual ``https_proxy`` / ``http_proxy`` /
``no_proxy`` variables. A file is checked against the checksum the repository
publishes beside it (``.sha512``, else ``.sha256``, else ``.sha1``). Where none
is published, a zip or jar is checked against its own CRCs and the launcher
says so, unless ``TANDEM_MAVEN_CHECKSUMS=require`` asks to fail instead.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ArtifactNotFoundError, EngineError

REPOSITORY_ENV = "TANDEM_MAVEN_URL"
CHECKSUMS_ENV = "TANDEM_MAVEN_CHECKSUMS"
CENTRAL = "https://repo1.maven.org/maven2"
_ALGORITHMS = ("sha512", "sha256", "sha1")
_CHUNK = 1 << 20
_ATTEMPTS = 3
_TIMEOUT = 60.0
_PROGRESS_EVERY = 5.0

Progress = Callable[[str], None]


class ChecksumError(EngineError):
    """A downloaded file does not match its published checksum."""


@dataclass(frozen=True)
class Repository:
    """A Maven repository's base URL, without credentials, and its auth header."""

    url: str
    authorization: str | None = None

    @classmethod
    def from_env(cls) -> Repository:
        return cls.parse(os.environ.get(REPOSITORY_ENV) or CENTRAL)

    @classmethod
    def parse(cls, text: str) -> Repository:
        parts = urllib.parse.urlsplit(text.strip().rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(
                f"{REPOSITORY_ENV} must be an http(s) URL such as {CENTRAL}, got a "
                f"{parts.scheme or 'relative'} URL"
            )
        authorization = None
        if parts.username is not None:
            pair = f"{urllib.parse.unquote(parts.username)}:"
            pair += urllib.parse.unquote(parts.password or "")
            authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return cls(
            urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")), authorization
        )

    def resolve(self, path: str) -> str:
        return f"{self.url}/{path}"


def _open(repo: Repository, url: str) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": "tandem-launcher"})
    if repo.authorization:
        request.add_header("Authorization", repo.authorization)
    response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=_TIMEOUT)
    return response


def _published_checksum(repo: Repository, url: str) -> tuple[str, str] | None:
    """``(algorithm, hex digest)`` published beside ``url``, or ``None``."""
    for algorithm in _ALGORITHMS:
        try:
            with _open(repo, f"{url}.{algorithm}") as response:
                words = response.read(1024).decode("ascii", errors="replace").split()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                continue
            raise
        if words:
            return algorithm, words[0].lower()
    return None


def _stream(
    repo: Repository, url: str, target: Path, label: str, progress: Progress, algorithm: str
) -> str:
    """Write ``url`` to ``target``; return its ``algorithm`` digest (hex)."""
    digest = hashlib.new(algorithm)
    with _open(repo, url) as response, target.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, last = 0, time.monotonic()
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if time.monotonic() - last >= _PROGRESS_EVERY:
                last = time.monotonic()
                of = f" of {total / 1e6:.0f}" if total else ""
                progress(f"downloading {label}: {done / 1e6:.0f}{of} MB")
    if total and done != total:
        raise ConnectionError(f"the download ended after {done} of {total} bytes")
    return digest.hexdigest()


def _verify(
    repo: Repository,
    url: str,
    partial: Path,
    name: str,
    published: tuple[str, str] | None,
    digest: str,
    progress: Progress,
) -> str:
    """Check the download of file ``name`` (at ``partial``, hashed to ``digest``) against
    the ``published`` checksum; return how it was checked."""
    if published is not None:
        algorithm, expected = published
        if digest != expected:
            raise ChecksumError(
                f"{url} does not match its published {algorithm}: expected {expected}, got "
                f"{digest}. The download or the mirror is corrupt; run again, or "
                f"point {REPOSITORY_ENV} at another mirror."
            )
        return algorithm
    if os.environ.get(CHECKSUMS_ENV, "").lower() == "require":
        raise ChecksumError(
            f"{url} has no published checksum (.sha512, .sha256 or .sha1) and "
            f"{CHECKSUMS_ENV}=require"
        )
    if Path(name).suffix in (".zip", ".jar"):
        try:
            with zipfile.ZipFile(partial) as archive:
                broken = archive.testzip()
        except zipfile.BadZipFile as err:
            raise ChecksumError(f"{url} is not a valid archive: {err}") from None
        if broken is not None:
            raise ChecksumError(f"{url} is corrupt: {broken} fails its CRC")
        progress(f"{name}: the repository publishes no checksum; its zip CRCs are intact")
        return "zip CRCs (no published checksum)"
    progress(f"{name}: the repository publishes no checksum")
    return "none published"


def download(
    repo: Repository,
    path: str,
    target: Path,
    progress: Progress,
    log: Path | None = None,
    what: str | None = None,
) -> Path:
    """Fetch ``path`` (relative to the repository) to ``target`` unless it is there.

    The file appears at ``target`` only once verified; transient network errors
    are retried. A 404 raises :class:`ArtifactNotFoundError` naming ``what`` (the
    artifact's coordinates) and the ``log``, where every fetch is recorded.
    """
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = repo.resolve(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            # The published checksum first: the download is then hashed once, with its algorithm.
            published = _published_checksum(repo, url)
            algorithm = published[0] if published is not None else "sha512"
            digest = _stream(repo, url, partial, target.name, progress, algorithm)
            checked = _verify(repo, url, partial, target.name, published, digest, progress)
            break
        except urllib.error.HTTPError as err:
            partial.unlink(missing_ok=True)
            if err.code == 404:
                _record(log, f"not found (HTTP 404): {url}")
                raise ArtifactNotFoundError(
                    f"{what or target.name} is not available on Maven Central or the mirror "
                    f"in {REPOSITORY_ENV} ({url} answers HTTP 404). Pick a version listed in "
                    "docs/engines.md." + (f" Log: {log}" if log else "")
                ) from None
            if err.code in (401, 403):
                raise EngineError(
                    f"{url} refused the download (HTTP {err.code}): check the credentials "
                    f"in {REPOSITORY_ENV}"
                ) from None
            failure: str = f"HTTP {err.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            partial.unlink(missing_ok=True)
            failure = str(getattr(err, "reason", err))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if attempt == _ATTEMPTS:
            raise EngineError(
                f"cannot download {url} after {_ATTEMPTS} attempts ({failure}). Check the "
                f"network, a proxy (https_proxy) or a mirror ({REPOSITORY_ENV})."
            )
        progress(f"{target.name}: {failure}; retrying")
        time.sleep(attempt)
    partial.replace(target)
    _record(log, f"fetched {url} -> {target} (verified: {checked})")
    return target


def _record(log: Path | None, line: str) -> None:
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            out.write(line + "\n")
