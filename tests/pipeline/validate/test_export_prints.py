"""The export's fingerprints looked up by (kind, id) from sorted columns, as a dict of them would answer."""

from __future__ import annotations

import pandas as pd

from pipeline.validate.against_export import ExportPrints


def test_lookups_answer_as_a_dict_of_the_rows_would_the_last_of_a_repeated_id_counting():
    table = pd.DataFrame({
        "kind": pd.array(["value", "modifier", "value", "value", None, "value"], dtype="string"),
        "id": pd.array([30, 7, 10, 30, 11, None], dtype="Int64"),
        "fingerprint": pd.array(["v30a", "m7", "v10", "v30b", "x", "y"], dtype="string"),
    })
    prints = ExportPrints(table)
    assert prints
    assert prints.get(("value", 30)) == "v30b"
    assert prints.get(("value", 10)) == "v10"
    assert prints.get(("modifier", 7)) == "m7"
    assert prints.get(("modifier", 30)) is None
    assert prints.get(("value", 11)) is None  # its row has no kind
    assert prints.get(("value", 5)) is None and prints.get(("value", 99)) is None
    assert prints.get(("value", None)) is None
    assert not ExportPrints(None) and not ExportPrints(table.iloc[:0])
    assert ExportPrints(None).get(("value", 30)) is None
