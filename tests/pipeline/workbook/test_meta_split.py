"""The `_bcmod` fingerprint cells are split in Arrow; the parts must be pandas' own split's."""

import pandas as pd
import pytest

from pipeline.workbook.meta import _split_parts

CELLS = ["a|b|3|c|d|e", "x", None, "p|q|", "f|t||cells|", "", "a|b|1|c", "|||", "é|ü|7|ß|"]


@pytest.mark.parametrize("index", [None, [10 + 3 * i for i in range(len(CELLS))]])
def test_parts_equal_pandas_split_including_missing_and_empty_parts(index):
    texts = pd.Series(CELLS, dtype="string", index=index)
    expected = texts.str.split("|", n=4, expand=True, regex=False).reindex(columns=range(5))
    parts = _split_parts(texts, 5)
    assert len(parts) == 5
    for position, part in enumerate(parts):
        want = expected[position].astype("string")
        assert part.index.equals(texts.index)
        assert part.isna().tolist() == want.isna().tolist(), position
        assert part.fillna("<NA>").tolist() == want.fillna("<NA>").tolist(), position


def test_a_column_in_many_arrow_chunks_and_an_empty_one():
    texts = pd.concat([pd.Series(["h|v|1|c|f"] * 3, dtype="string")] * 4, ignore_index=True)
    assert [part.tolist() for part in _split_parts(texts, 5)] == [[p] * 12 for p in ["h", "v", "1", "c", "f"]]
    assert [len(part) for part in _split_parts(pd.Series([], dtype="string"), 5)] == [0] * 5
