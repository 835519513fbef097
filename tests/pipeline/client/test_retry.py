"""The retry decision table and the backoff schedule."""

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.client.retry import Decision, RetryPolicy, decide, is_idempotent

REQUEST = httpx.Request("GET", "http://store.test/v3/catalog/products")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "POST"])
def test_429_is_always_retried_after_the_governor(method):
    assert decide(method, status=429) is Decision.RETRY_AFTER_GOVERNOR


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_5xx_is_retried_for_idempotent_methods(method, status):
    assert decide(method, status=status) is Decision.RETRY_AFTER_BACKOFF


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_after_a_post_is_ambiguous_unless_the_caller_vouches(status):
    assert decide("POST", status=status) is Decision.AMBIGUOUS
    assert decide("post", status=status, idempotent=True) is Decision.RETRY_AFTER_BACKOFF


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 422, 501, 505])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_other_errors_are_final(method, status):
    assert decide(method, status=status, idempotent=True) is Decision.FAIL


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_connection_that_never_opened_is_always_retried(method, exc_type):
    assert decide(method, exc=exc_type("no", request=REQUEST)) is Decision.RETRY_AFTER_BACKOFF


@pytest.mark.parametrize(
    "exc_type", [httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteError]
)
def test_a_drop_after_sending_is_retried_only_when_idempotent(exc_type):
    exc = exc_type("dropped", request=REQUEST)
    assert decide("GET", exc=exc) is Decision.RETRY_AFTER_BACKOFF
    assert decide("PUT", exc=exc) is Decision.RETRY_AFTER_BACKOFF
    assert decide("POST", exc=exc) is Decision.AMBIGUOUS
    assert decide("POST", exc=exc, idempotent=True) is Decision.RETRY_AFTER_BACKOFF
    assert decide("GET", exc=exc, idempotent=False) is Decision.AMBIGUOUS


def test_unknown_transport_errors_are_final():
    assert decide("GET", exc=httpx.UnsupportedProtocol("ftp", request=REQUEST)) is Decision.FAIL


def test_idempotency_defaults_follow_http():
    assert is_idempotent("get") and is_idempotent("DELETE") and not is_idempotent("POST")
    assert is_idempotent("POST", True) and not is_idempotent("PUT", False)


def test_backoff_doubles_up_to_the_cap_with_full_jitter():
    top = RetryPolicy(base_s=0.5, cap_s=4.0, random=lambda: 1.0)
    assert [top.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    bottom = RetryPolicy(random=lambda: 0.0)
    assert bottom.backoff(3) == 0.0


@given(failures=st.integers(min_value=1, max_value=60), draw=st.floats(min_value=0, max_value=1))
def test_backoff_stays_within_zero_and_the_cap(failures, draw):
    policy = RetryPolicy(random=lambda: draw)
    assert 0 <= policy.backoff(failures) <= policy.cap_s


@pytest.mark.anyio
async def test_wait_sleeps_the_backoff():
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    policy = RetryPolicy(base_s=1.0, random=lambda: 0.5, sleep=sleep)
    assert await policy.wait(2) == 1.0
    assert slept == [1.0]
