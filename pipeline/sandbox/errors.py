"""BigCommerce's error bodies, raised as one exception type and rendered in one place.

422/409 carry `errors: {field.path: message}`, 404 and 401 carry none: clients branch on those
shapes, so every handler raises `ApiError` instead of building bodies by hand.
"""

from __future__ import annotations

from typing import Any

ERROR_TYPE_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
NOT_FOUND_TITLE = "The requested resource was not found."


class ApiError(Exception):
    """An error answer: status, a title and, for validation errors, the fields at fault."""

    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {title}")
        self.status = status
        self.title = title
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.title, self.errors)


def error_body(status: int, title: str, errors: dict[str, str] | None = None) -> dict[str, Any]:
    """`{status, title, type[, errors]}` exactly as BigCommerce shapes it."""
    body: dict[str, Any] = {"status": status, "title": title, "type": ERROR_TYPE_URL}
    if errors is not None:
        body["errors"] = errors
    return body


def not_found() -> ApiError:
    return ApiError(404, NOT_FOUND_TITLE)


def invalid(errors: dict[str, str], title: str = "JSON data is missing or invalid") -> ApiError:
    """A 422 naming every field at fault."""
    return ApiError(422, title, errors)
