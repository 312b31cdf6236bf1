"""The error table: every domain error has one status code."""

from __future__ import annotations

import grpc
import pytest

from tandem.plugin.engines.errors import (
    CapabilityError,
    EngineAuthError,
    EngineBadRequest,
    EngineOverloaded,
    EngineServerError,
    EngineUnavailable,
    IndexNotFound,
)
from tandem.plugin.index.names import BadIndexName, IndexNotAllowed
from tandem.plugin.index.spec import SpecError
from tandem.plugin.search.extension import DslError
from tandem.plugin.search.policy import QueryNotAllowed
from tandem.plugin.server.batcher import BatcherClosed, QueueFull
from tandem.plugin.server.errors import (
    DeadlineExceeded,
    InvalidRequest,
    ModelMissing,
    NotReady,
    TooLarge,
    describe,
    status_for,
    validating,
)

Code = grpc.StatusCode


@pytest.mark.parametrize(
    "err, code",
    [
        (InvalidRequest("bad k"), Code.INVALID_ARGUMENT),
        (SpecError("dims must match"), Code.INVALID_ARGUMENT),
        (DslError((), "no tandem clause"), Code.INVALID_ARGUMENT),
        (QueryNotAllowed("script"), Code.INVALID_ARGUMENT),
        (BadIndexName("index is empty"), Code.INVALID_ARGUMENT),
        (IndexNotAllowed(".security"), Code.PERMISSION_DENIED),
        # A plain ValueError is a bug in the server, not the caller's mistake.
        (ValueError("math domain error"), Code.INTERNAL),
        (EngineBadRequest("parse error", 400), Code.INVALID_ARGUMENT),
        (QueueFull("busy"), Code.RESOURCE_EXHAUSTED),
        (DeadlineExceeded("slow engine"), Code.DEADLINE_EXCEEDED),
        (TooLarge("big"), Code.RESOURCE_EXHAUSTED),
        (EngineOverloaded("429", 429), Code.RESOURCE_EXHAUSTED),
        (NotReady("no engine"), Code.UNAVAILABLE),
        (BatcherClosed("stopping"), Code.UNAVAILABLE),
        (EngineUnavailable("refused"), Code.UNAVAILABLE),
        (EngineServerError("500", 500), Code.UNAVAILABLE),
        (IndexNotFound("no index", 404), Code.NOT_FOUND),
        (EngineAuthError("401", 401), Code.FAILED_PRECONDITION),
        (CapabilityError("no knn"), Code.FAILED_PRECONDITION),
        (ModelMissing("no dense model"), Code.FAILED_PRECONDITION),
        (
            EngineBadRequest("exists", 400, "resource_already_exists_exception"),
            Code.ALREADY_EXISTS,
        ),
        (KeyError("bug"), Code.INTERNAL),
        (TypeError("bug"), Code.INTERNAL),
    ],
)
def test_status_for(err: Exception, code: grpc.StatusCode) -> None:
    assert status_for(err) is code


def test_internal_errors_are_logged_and_their_details_stay_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    code, message = describe(KeyError("secret internals"), "Search")
    assert code is Code.INTERNAL
    assert "secret internals" not in message and "sidecar's log" in message
    assert "secret internals" in caplog.text
    assert caplog.records[0].exc_info is not None  # the traceback is logged


def test_expected_errors_keep_their_message() -> None:
    assert describe(InvalidRequest("k must be positive"), "Search") == (
        Code.INVALID_ARGUMENT,
        "k must be positive",
    )


def test_a_plain_value_error_is_internal_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    code, _ = describe(ValueError("math domain error"), "Search")
    assert code is Code.INTERNAL
    assert "math domain error" in caplog.text
    assert caplog.records[0].exc_info is not None


def test_value_errors_raised_while_validating_a_request_are_the_callers() -> None:
    with pytest.raises(InvalidRequest, match="k must be positive"), validating():
        raise ValueError("k must be positive")
    with pytest.raises(IndexNotAllowed), validating():  # typed errors keep their status
        raise IndexNotAllowed(".security")
