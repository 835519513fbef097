"""The page-number paginator: stops on total_pages, refuses to loop or skip."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.client.errors import PaginationError
from pipeline.client.pagination import PageNumberPaginator


def page(ids, *, current, total_pages, total, per_page=3):
    return {
        "data": [{"id": i} for i in ids],
        "meta": {"pagination": {"total": total, "count": len(ids), "per_page": per_page,
                                "current_page": current, "total_pages": total_pages}},
    }


def drain(paginator, pages):
    """Feed pages as a sequential client would; returns the ids received."""
    ids = []
    for payload in pages:
        if not paginator.has_next_page:
            break
        ids += [item["id"] for item in paginator.update_state(payload)]
    return ids


def test_walks_every_page_and_stops_on_total_pages():
    p = PageNumberPaginator()
    assert p.next_params() == {"page": 1}
    p.update_state(page([1, 2, 3], current=1, total_pages=3, total=7))
    assert p.has_next_page and p.next_params() == {"page": 2}
    assert list(p.remaining_pages()) == [2, 3]
    p.update_state(page([4, 5, 6], current=2, total_pages=3, total=7))
    p.update_state(page([7], current=3, total_pages=3, total=7))
    assert not p.has_next_page and p.count == 7
    assert list(p.remaining_pages()) == []


def test_an_empty_listing_is_one_empty_page():
    p = PageNumberPaginator()
    assert p.update_state(page([], current=1, total_pages=0, total=0)) == []
    assert not p.has_next_page


def test_a_payload_without_pagination_is_a_single_page():
    p = PageNumberPaginator()
    assert p.update_state({"data": [{"id": 1}], "meta": {}}) == [{"id": 1}]
    assert not p.has_next_page


def test_hard_cap_is_the_first_total_pages_even_if_later_pages_promise_more():
    p = PageNumberPaginator()
    p.update_state(page([1, 2, 3], current=1, total_pages=2, total=6))
    p.update_state(page([4, 5, 6], current=2, total_pages=9, total=27))
    assert not p.has_next_page
    with pytest.raises(PaginationError, match="after the last page"):
        p.update_state(page([7], current=3, total_pages=9, total=27))


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (page([4, 5, 6], current=1, total_pages=3, total=9), "server answered with page 1"),
        (page([], current=2, total_pages=3, total=9), "empty, but total_pages is 3"),
        (page([4, 5], current=2, total_pages=3, total=9), "short of per_page"),
        (page([1, 2, 3], current=2, total_pages=3, total=9), "repeats page 1"),
        (page([3, 4, 5], current=2, total_pages=3, total=9), "id 3 already came in page 1"),
        ({"data": {"id": 4}, "meta": {}}, "not a list"),
        ({"data": [{"id": 4}]}, "no meta.pagination"),
    ],
)
def test_inconsistent_pages_raise_with_details(second, message):
    p = PageNumberPaginator(path="/catalog/products")
    p.update_state(page([1, 2, 3], current=1, total_pages=3, total=9))
    with pytest.raises(PaginationError, match=message) as caught:
        p.update_state(second)
    assert "page 2" in str(caught.value) and "/catalog/products" in str(caught.value)
    assert not p.has_next_page  # a failed listing is over: nobody loops on it


def test_final_count_must_match_the_first_total():
    p = PageNumberPaginator()
    p.update_state(page([1, 2, 3], current=1, total_pages=2, total=7))
    with pytest.raises(PaginationError, match="received 5 items in 2 pages, but the first page said total 7"):
        p.update_state(page([4, 5], current=2, total_pages=2, total=7))


@given(total=st.integers(0, 60), per_page=st.integers(1, 12))
def test_honest_pages_arrive_exactly_once(total, per_page):
    pages_n = math.ceil(total / per_page)
    ids = list(range(100, 100 + total))
    pages = [
        page(ids[i * per_page:(i + 1) * per_page], current=i + 1, total_pages=pages_n, total=total,
             per_page=per_page)
        for i in range(max(pages_n, 1))
    ]
    assert drain(PageNumberPaginator(), pages) == ids


@given(
    total=st.integers(1, 40),
    per_page=st.integers(1, 8),
    lie=st.sampled_from(["total_pages", "total", "current_page", "drop_item", "repeat"]),
    at=st.integers(0, 10),
    extra_pages=st.integers(0, 5),
)
def test_lying_metadata_never_loops_and_never_skips_silently(total, per_page, lie, at, extra_pages):
    pages_n = math.ceil(total / per_page)
    ids = list(range(total))
    pages = [
        page(ids[i * per_page:(i + 1) * per_page], current=i + 1, total_pages=pages_n, total=total,
             per_page=per_page)
        for i in range(pages_n)
    ]
    target = pages[at % pages_n]["meta"]["pagination"]
    if lie == "total_pages":
        target["total_pages"] += extra_pages
    elif lie == "total":
        target["total"] += extra_pages
    elif lie == "current_page":
        target["current_page"] += extra_pages
    elif lie == "drop_item":
        pages[at % pages_n]["data"].pop()
    elif lie == "repeat" and pages_n > 1:
        pages[(at % (pages_n - 1)) + 1] = dict(pages[at % (pages_n - 1)])
    # the server keeps answering past the end: the paginator must stop by itself
    pages += [page([999], current=pages_n + k + 1, total_pages=pages_n, total=total) for k in range(5)]
    p = PageNumberPaginator()
    try:
        received = drain(p, pages)
    except PaginationError:
        return
    assert sorted(received) == ids  # no error means nothing was lost or duplicated
    assert p.next_page - 1 <= pages_n
