"""What can go wrong talking to BigCommerce, split like Singer SDK's Retriable/Fatal API errors.

Every error carries the method, URL, HTTP status, BigCommerce's `title` and its `errors` map
(`{field: message}` on 422/409) and reads as one line. None of them holds headers, the request or
the response, so an error can be logged, pickled or persisted without carrying the token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

LEGACY_OPTION_SET_HINT = (
    "product uses a legacy (V2) option set; edit its options in the BigCommerce control panel "
    "or remove the option set before editing modifiers"
)


def _rebuild(cls: type[BigCommerceError], state: dict[str, Any]) -> BigCommerceError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class BigCommerceError(Exception):
    """Base of every client error: `status`, `title`, `errors`, `method`, `url`; one-line str()."""

    retriable: ClassVar[bool] = False
    default_title: ClassVar[str] = "request failed"

    def __init__(
        self,
        title: str | None = None,
        *,
        status: int | None = None,
        errors: Mapping[str, str] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.title = title or self.default_title
        self.errors: dict[str, str] = dict(errors or {})
        self.method = method
        self.url = url
        self.message = self._format()
        super().__init__(self.message)

    @property
    def path(self) -> str | None:
        """The URL's path and query, the part worth showing a person."""
        if not self.url:
            return None
        url = httpx.URL(self.url)
        return url.raw_path.decode("ascii", "replace")

    def _format(self) -> str:
        where = " ".join(part for part in (self.method, self.path) if part)
        head = f"{where} -> {self.status}" if self.status is not None else where
        text = f"{head}: {self.title}" if head else self.title
        if self.errors:
            text += " (" + "; ".join(f"{field}: {msg}" for field, msg in self.errors.items()) + ")"
        return " ".join(text.split())  # one line, whatever the server put in its messages

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self):  # keyword-only constructors do not pickle by default; Prefect may pickle us
        return _rebuild, (type(self), dict(self.__dict__))


class RetriableError(BigCommerceError):
    """Trying the same request again later may succeed."""

    retriable = True


class FatalError(BigCommerceError):
    """Trying the same request again will fail the same way (or is unsafe)."""


class RateLimitError(RetriableError):
    """429: the store's quota is spent (with rate-limit headers) or the platform is loaded (without)."""

    default_title = "rate limited"


class ServerError(RetriableError):
    """500/502/503/504: a transient server failure."""

    default_title = "server error"


class NetworkError(RetriableError):
    """The connection failed or dropped; `cause` names the transport error."""

    default_title = "connection failed"

    def __init__(self, title: str | None = None, *, cause: str | None = None, **kwargs: Any) -> None:
        self.cause = cause
        super().__init__(title or (f"connection failed ({cause})" if cause else None), **kwargs)


class NotFoundError(FatalError):
    """404: the object does not exist (BigCommerce sends no `errors` map)."""

    default_title = "not found"
    #: set when an earlier attempt of the same request may have been applied (a DELETE retried
    #: after a dropped connection answers 404 because the first attempt did delete)
    earlier_attempt_may_have_applied: bool = False


class ValidationError(FatalError):
    """422: BigCommerce refused the payload; `errors` maps each field to its message."""

    default_title = "the request was not valid"


class LegacyOptionSetError(ValidationError):
    """422 because the product is attached to a legacy V2 option set: its modifiers cannot be edited."""

    default_title = LEGACY_OPTION_SET_HINT


class ConflictError(FatalError):
    """409: a unique field (e.g. the modifier's name) clashes with an existing object."""

    default_title = "conflict"


class AuthError(FatalError):
    """401/403: the token is missing, wrong, or lacks the catalog scope."""

    default_title = "not authorised: check BIGCOMMERCE_ACCESS_TOKEN and its Products scope"


class PaginationError(FatalError):
    """The pagination metadata contradicts the pages: stop rather than loop or skip a page."""

    default_title = "inconsistent pagination"


class _AfterError(FatalError):
    """A final error about an earlier one: same method, URL, status and field errors, plus `last_error`."""

    def __init__(self, title: str, last_error: BigCommerceError) -> None:
        self.last_error = last_error
        super().__init__(title, status=last_error.status, errors=last_error.errors,
                         method=last_error.method, url=last_error.url)


class RetriesExhaustedError(_AfterError):
    """The request kept failing with retriable errors; `last_error` is the final one."""

    def __init__(self, last_error: BigCommerceError, *, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(f"gave up after {attempts} attempts; last: {last_error.title}", last_error)


class AmbiguousWriteError(_AfterError):
    """A non-idempotent write was sent but its outcome is unknown (connection dropped or 5xx).

    It may or may not have been applied; retrying blindly could create a duplicate. Reconcile first:
    look the object up by its natural key (product + display name, modifier + label).
    """

    def __init__(self, cause: BigCommerceError) -> None:
        super().__init__(
            f"outcome unknown after {cause.title}; look the object up by its natural key before retrying", cause)


_BY_STATUS: dict[int, type[BigCommerceError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}


def _field_errors(raw: object) -> dict[str, str]:
    """BigCommerce's `errors` as {field: message}, whatever shape it arrived in."""

    def text(value: object) -> str:
        if isinstance(value, list | tuple):
            return "; ".join(text(v) for v in value)
        return value if isinstance(value, str) else json.dumps(value, default=str)

    if isinstance(raw, Mapping):
        return {str(k): text(v) for k, v in raw.items()}
    if isinstance(raw, list | tuple):
        return {str(i): text(v) for i, v in enumerate(raw)}
    return {"error": text(raw)} if raw else {}


def _mentions_option_set(title: str, errors: Mapping[str, str], kind: object) -> bool:
    haystack = " ".join([title, str(kind or ""), *errors.keys(), *errors.values()]).lower()
    return "option set" in haystack or "option_set" in haystack or "optionset" in haystack


def error_from_response(response: httpx.Response) -> BigCommerceError:
    """Map a non-2xx response to the matching error, reading BigCommerce's error body if any."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, Mapping) else {}
    title = body.get("title") or body.get("detail") or response.reason_phrase or None
    errors = _field_errors(body.get("errors"))
    cls = _BY_STATUS.get(status, FatalError)
    if status == 422 and _mentions_option_set(str(title or ""), errors, body.get("type")):
        cls = LegacyOptionSetError
        title = f"{LEGACY_OPTION_SET_HINT} (BigCommerce said: {title})" if title else None
    try:
        method, url = response.request.method, str(response.request.url)
    except RuntimeError:  # a response built without a request
        method = url = None
    return cls(str(title) if title else None, status=status, errors=errors, method=method, url=url)
