"""Test data shared by several test modules."""

from __future__ import annotations


from sample_data.generator import as_api_products  # noqa: F401  (re-exported for the tests)


def assert_frames_equal(left, right, *, exact: bool = True) -> None:
    """Two `ModifierFrames` hold the same rows, columns, dtypes and order; numbers to the last bit
    unless not `exact` (then to pandas' default relative tolerance)."""
    import pandas as pd

    pd.testing.assert_frame_equal(left.modifiers, right.modifiers, check_exact=exact)
    pd.testing.assert_frame_equal(left.values, right.values, check_exact=exact)


# Text that spreadsheets like to rewrite, evaluate or mangle, beyond the generator's own.
EXTRA_TRICKY_TEXT = (
    " padded ", "two\nlines", "cr\r\nlf", "_x0041_ literal", "'=already quoted", "'apostrophe", "<b>&amp;</b>",
    "tab\there", "NA", "null", "TRUE", "1e5", "00123", "3.0", "-", "=", "日本語", "emoji 🎁", "bell\x07",
)


def sample_frames(n_products: int = 24, seed: int = 5, *, extra_text: bool = True):
    """Frames of a generated catalog (every type) whose first choice values carry every tricky label
    (the generator's, and `EXTRA_TRICKY_TEXT` unless `extra_text` is false)."""
    from pipeline.normalise import products_to_frames
    from sample_data.generator import TRICKY_LABELS, generate_catalog

    frames = products_to_frames(as_api_products(generate_catalog(n_products, seed=seed)))
    labels = (*TRICKY_LABELS, *(EXTRA_TRICKY_TEXT if extra_text else ()))
    choice = frames.values.index[frames.values["type"].isin(["dropdown", "radio_buttons", "rectangles"])]
    assert len(choice) >= len(labels), "catalog too small for the tricky labels"
    frames.values.loc[choice[: len(labels)], "label"] = list(labels)
    # numbers whose shortest text is long, tiny, negative or big
    frames.values.loc[choice[:4], "price_adjuster_value"] = [0.1 + 0.2, 1e-7, -123456.789, 9.99e15]
    return frames
