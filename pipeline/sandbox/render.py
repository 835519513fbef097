"""Shape stored records into response objects: absolute image URLs and field selection.

The database keeps sandbox image URLs relative (`/_sandbox/images/...`); they are made absolute
at response time on the configured image origin (`SandboxConfig.image_origin`, else the
request's base URL), so one database works under any host and port and, with an image origin,
the same image has the same URL whatever port the sandbox serves on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Json = dict[str, Any]


def absolute_url(url: str, base_url: str) -> str:
    """`/x` -> `http://host:port/x`; other URLs (external, empty) unchanged."""
    return base_url.rstrip("/") + url if url.startswith("/") else url


def relative_url(url: str, *origins: str) -> str:
    """The inverse of `absolute_url` for URLs pointing back at this server under any of `origins`
    (its image origin and the address the request came in on)."""
    for origin in origins:
        base = origin.rstrip("/")
        if url.startswith(base + "/"):
            return url[len(base):]
    return url


def render_value(value: Json, base_url: str) -> Json:
    out = dict(value)
    adjusters = dict(out["adjusters"])
    adjusters["image_url"] = absolute_url(adjusters.get("image_url") or "", base_url)
    out["adjusters"] = adjusters
    data = out.get("value_data")
    if isinstance(data, dict) and isinstance(data.get("image_url"), str):
        out["value_data"] = {**data, "image_url": absolute_url(data["image_url"], base_url)}
    return out


def render_modifier(modifier: Json, base_url: str) -> Json:
    return {**modifier, "option_values": [render_value(v, base_url) for v in modifier["option_values"]]}


def select_fields(obj: Json, include: Sequence[str] | None, exclude: Sequence[str] | None,
                  always: Sequence[str] = ()) -> Json:
    """Apply `include_fields`/`exclude_fields`; `id` (and `always`, e.g. included sub-resources) stay."""
    keep = {"id", *always}
    if include:
        wanted = set(include) | keep
        obj = {k: v for k, v in obj.items() if k in wanted}
    if exclude:
        obj = {k: v for k, v in obj.items() if k not in set(exclude) - keep}
    return obj
