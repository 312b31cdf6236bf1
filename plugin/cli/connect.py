"""``tandem connect opensearch``: OpenSearch calls Tandem as its model server.

Creates ML Commons connectors and remote models for Tandem's HTTP face (dense and
sparse, document and query), deploys them, calls each once through OpenSearch to
prove the path works, and prints their ids. ``--pipelines`` adds an ingest pipeline
and a search pipeline that use them; ``--index`` makes them that index's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tandem.plugin.engines.connect import connect
from tandem.plugin.engines.kinds import EngineKind
from tandem.plugin.engines.ml_commons import (
    ROLES,
    ConnectError,
    MlCommons,
    Target,
    ingest_pipeline_body,
    search_pipeline_body,
)
from tandem.plugin.engines.targets import engine_url
from tandem.plugin.index.spec import DEFAULT_DENSE_FIELD, DEFAULT_SPARSE_FIELD

ERRORS = (ConnectError,)
INGEST_PIPELINE = "tandem-ingest"
SEARCH_PIPELINE = "tandem-search"
ELASTICSEARCH = (
    "Elasticsearch's inference API calls third-party model services only with an Enterprise "
    "licence, so it cannot call Tandem on Basic: write vectors with 'tandem enrich' or "
    "'tandem index' and search through Tandem instead (docs/http.md#elasticsearch)"
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "connect",
        help="make OpenSearch call Tandem as its model server (ML Commons remote models)",
        description=(
            "Creates ML Commons connectors and remote models for a sidecar's HTTP face (dense "
            "and sparse, for documents and for queries), deploys them, checks each through "
            "OpenSearch, and prints their ids. Running it again reuses the models that call "
            "the same URL. See docs/opensearch-connector.md."
        ),
    )
    parser.add_argument(
        "engine_kind", choices=["opensearch", "elasticsearch"], metavar="ENGINE", help="opensearch"
    )
    parser.add_argument(
        "--engine", default="opensearch", help="opensearch, or the URL of an OpenSearch cluster"
    )
    parser.add_argument(
        "--server-url",
        default="http://127.0.0.1:8080",
        help="the sidecar's HTTP face as the engine reaches it (default http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--token-file", type=Path, help="file holding the bearer token (or set TANDEM_TOKEN)"
    )
    parser.add_argument(
        "--pipelines",
        action="store_true",
        help=f"also create the ingest pipeline {INGEST_PIPELINE} and search pipeline "
        f"{SEARCH_PIPELINE}",
    )
    parser.add_argument(
        "--index", help="make the pipelines this index's defaults (implies --pipelines)"
    )
    parser.add_argument("--text-field", default="text", help="field the ingest pipeline encodes")
    parser.add_argument("--dense-field", default=DEFAULT_DENSE_FIELD, help="dense vector field")
    parser.add_argument("--sparse-field", default=DEFAULT_SPARSE_FIELD, help="sparse field")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="delete Tandem's models that call another URL instead of refusing",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sidecar_info(server_url: str, token: str | None) -> dict[str, Any]:
    """The sidecar's ``GET /info``: proof that its HTTP face answers, and its limits."""
    url = server_url.rstrip("/") + "/info"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            info: dict[str, Any] = json.loads(r.read())
    except urllib.error.HTTPError as err:
        raise ConnectError(
            f"{url} answered HTTP {err.code}"
            + (": pass the sidecar's token with --token-file" if err.code == 401 else "")
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ConnectError(
            f"no Tandem HTTP face answers at {server_url} ({reason}): start the sidecar with "
            "'tandem serve --http-port 8080', or point --server-url at it"
        ) from None
    return info


def run(args: argparse.Namespace) -> int:
    if args.engine_kind == "elasticsearch":
        raise ConnectError(ELASTICSEARCH)
    token = os.environ.get("TANDEM_TOKEN")
    if args.token_file is not None:
        token = args.token_file.read_text().strip()
    info = sidecar_info(args.server_url, token)
    kinds = {m["kind"]: m for m in info.get("models", [])}
    missing = [kind for kind in ("dense", "sparse") if kind not in kinds]
    if missing:
        raise ConnectError(
            f"the sidecar at {args.server_url} serves no {' or '.join(missing)} model: start it "
            "with both (the defaults) to connect both"
        )
    target = Target(args.server_url, token, int(info["limits"]["max_texts_per_request"]))
    adapter = connect(engine_url(args.engine), EngineKind.OPENSEARCH)
    try:
        ml = MlCommons(adapter, _progress)
        ml.check_installed()
        models, reused = {}, {}
        for role in ROLES:
            models[role], reused[role] = ml.ensure_model(target, role, args.replace)
            size = ml.check_model(models[role], role, target)
            expected = kinds["dense"].get("dimensions") if role.startswith("dense") else None
            if expected is not None and size != expected:
                raise ConnectError(
                    f"{role} answered {size} values through OpenSearch, not {expected}"
                )
        pipelines = _pipelines(ml, args, models) if args.pipelines or args.index else {}
    finally:
        adapter.close()
    _print(args, models, reused, pipelines)
    return 0


def _pipelines(ml: MlCommons, args: argparse.Namespace, models: dict[str, str]) -> dict[str, str]:
    ml.put_ingest_pipeline(
        INGEST_PIPELINE,
        ingest_pipeline_body(models, args.text_field, args.dense_field, args.sparse_field),
    )
    ml.put_search_pipeline(
        SEARCH_PIPELINE, search_pipeline_body(models, args.dense_field, args.sparse_field)
    )
    if args.index:
        ml.use_pipelines(args.index, INGEST_PIPELINE, SEARCH_PIPELINE)
        _progress(f"{args.index}: default ingest and search pipelines set")
    return {"ingest": INGEST_PIPELINE, "search": SEARCH_PIPELINE}


def _print(
    args: argparse.Namespace,
    models: dict[str, str],
    reused: dict[str, bool],
    pipelines: dict[str, str],
) -> None:
    if args.json:
        payload = {
            "engine": args.engine,
            "server_url": args.server_url,
            "models": models,
            "reused": reused,
            "pipelines": pipelines,
            "index": args.index,
        }
        print(json.dumps(payload))
        return
    for role in ROLES:
        print(f"{role}\t{models[role]}\t{'reused' if reused[role] else 'created'}")
    for kind, name in pipelines.items():
        print(f"{kind}_pipeline\t{name}")
