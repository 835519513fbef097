"""HTTP client for BigCommerce's Catalog API: rate governor, retries, pagination, errors."""

from pipeline.client.errors import (
    AmbiguousWriteError,
    AuthError,
    BigCommerceError,
    ConflictError,
    FatalError,
    LegacyOptionSetError,
    NetworkError,
    NotFoundError,
    PaginationError,
    RateLimitError,
    RetriableError,
    RetriesExhaustedError,
    ServerError,
    ValidationError,
    error_from_response,
)
from pipeline.client.governor import GovernorStats, RateGovernor, RateLimitHeaders
from pipeline.client.http import BigCommerceClient, ClientMetrics, unwrap_data
from pipeline.client.pagination import PageNumberPaginator
from pipeline.client.retry import Decision, RetryPolicy, decide, is_idempotent

__all__ = [
    "AmbiguousWriteError",
    "AuthError",
    "BigCommerceClient",
    "BigCommerceError",
    "ClientMetrics",
    "ConflictError",
    "Decision",
    "FatalError",
    "GovernorStats",
    "LegacyOptionSetError",
    "NetworkError",
    "NotFoundError",
    "PageNumberPaginator",
    "PaginationError",
    "RateGovernor",
    "RateLimitError",
    "RateLimitHeaders",
    "RetriableError",
    "RetriesExhaustedError",
    "RetryPolicy",
    "ServerError",
    "ValidationError",
    "decide",
    "error_from_response",
    "is_idempotent",
    "unwrap_data",
]
