"""A local BigCommerce-compatible Catalog API (modifiers subset) for the demo, tests and benchmarks.

Public API:
- `SandboxConfig` (config.py): data dir, store hash, token, quota/window, faults, seeding, and
  `strict` / `check_responses` / `literal_include_fields` (see below).
- `create_app(config)` (app.py): the Starlette app; `app.state.sandbox.store.seed_catalog(...)`
  inserts products directly.
- `serve_in_thread(config)` / `serve_forever(config)` (server.py): over uvicorn.
- `SandboxTransport` (transport.py): in-process httpx transport; drops raise
  `httpx.RemoteProtocolError` like a real closed connection.
- `SandboxConnectionDropped` (faults.py): what the app raises to simulate a drop.

Strict mode: with BigCommerce's OpenAPI specs at hand (`$BIGCOMMERCE_OPENAPI_DIR` or
`../shared/bigcommerce-openapi`), every request to a served `/stores/{hash}/v3` operation is
checked against them (`openapi.py`, compiled once per process) and refused with 422 listing every
violation (`contract.py`); responses can be checked too (`check_responses`, on in the test suite;
counts in `/_sandbox/stats` and `tally.py`). Where the specs contradict themselves, `errata.py`
is the one table of departures, each with its spec lines and reason. Without the specs the
sandbox keeps its own rules (below) and says so once in its log.

Choices where BigCommerce is silent or the spec contradicts itself (the sandbox's own rules):
- creates answer 200; config of types without config fields is `{}` (the spec example shows `[]`);
- an image over 8 MB answers 422 naming `image_file` (not 413), like any other bad image;
- PUT modifier is a partial update: config merges key by key (null removes a key), option values
  with an `id` are updated, without one are created, others are left alone;
- `date_modified:min/max` with a bare date mean 00:00 UTC of that day;
- date config values are stored and answered as ISO-8601 ATOM whatever ISO form was sent;
- `/_sandbox/reset` clears counters, the log, the rate window and a simulated crash, not the catalog.
"""

from pipeline.sandbox.app import create_app
from pipeline.sandbox.config import SandboxConfig
from pipeline.sandbox.faults import SandboxConnectionDropped
from pipeline.sandbox.transport import SandboxTransport

__all__ = ["SandboxConfig", "SandboxConnectionDropped", "SandboxTransport", "create_app"]
