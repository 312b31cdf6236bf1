"""Read a JSON request body and check its fields; every refusal names the field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from .problems import HttpProblem, bad_request

JSON_TYPES = ("application/json",)


async def json_object(request: web.Request, allowed: Iterable[str]) -> dict[str, Any]:
    """The body as a JSON object with no key outside ``allowed``.

    A body over the size limit raises aiohttp's 413 while it is read; a wrong content
    type is 415; malformed JSON, another JSON type or an unknown key is 400.
    """
    if request.content_type not in JSON_TYPES:
        sent = request.content_type or "no content type"
        raise HttpProblem(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"the body must be JSON sent as 'Content-Type: application/json', got {sent}",
        )
    raw = await request.read()
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8") from None
    except json.JSONDecodeError as err:
        raise bad_request(f"the body is not valid JSON: {err}") from None
    except RecursionError:
        raise bad_request("the body is nested too deeply") from None
    if not isinstance(value, dict):
        raise bad_request(f"the body must be a JSON object, got {json_type(value)}")
    known = tuple(allowed)
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise bad_request(
            f"unknown field {unknown[0]!r}; this route takes {', '.join(sorted(known))}"
        )
    return value


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def texts(body: Mapping[str, Any], name: str) -> tuple[list[str], bool]:
    """``body[name]``: one string or a non-empty array of strings; whether it was one."""
    if name not in body:
        raise bad_request(f"{name} is missing: send a string or an array of strings")
    value = body[name]
    if isinstance(value, str):
        if not value.strip():
            raise bad_request(f"{name} is empty: there is nothing to encode")
        return [value], True
    if not isinstance(value, list) or not value:
        what = "an empty array" if value == [] else json_type(value)
        raise bad_request(f"{name} must be a string or a non-empty array of strings, got {what}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            hint = " (token ids are not accepted: send the text)" if isinstance(item, int) else ""
            raise bad_request(f"{name}[{i}] must be a string, got {json_type(item)}{hint}")
        if not item.strip():
            raise bad_request(f"{name}[{i}] is empty: there is nothing to encode")
    return value, False


def boolean(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false, got {json_type(value)}")
    return value


def string(body: Mapping[str, Any], name: str, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string, got {json_type(value)}")
    return value


def count(body: Mapping[str, Any], name: str, largest: int = 2**32 - 1) -> int:
    """A whole number in 0..``largest`` (0 when absent)."""
    value = body.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be a whole number, got {json_type(value)}")
    if not 0 <= value <= largest:
        raise bad_request(f"{name} must be in 0..{largest}, got {value}")
    return value


def strings(body: Mapping[str, Any], name: str) -> list[str]:
    """An array of strings (empty when absent)."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{name} must be an array of strings, got {json_type(value)}")
    return value


def choice(body: Mapping[str, Any], name: str, options: Iterable[str], default: str) -> str:
    """One of ``options`` (case-insensitive), else ``default`` when absent."""
    value = string(body, name, default).lower()
    allowed = tuple(options)
    if value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
