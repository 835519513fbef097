"""Read a store's modifiers straight into frames, a page at a time.

`extract_products` hands back every product payload at once, which for a big catalog holds the
whole store as Python dicts next to the frames made from them. Here each page is normalised as it
arrives (`frames_builder.FramesBuilder`) and its payloads dropped, so an export's memory is the frames
alone. Everything else is `extract_products`' own: filters, the include_fields switch and its
warning (`ExtractSession`), the progress, and the result ordered by product id, each product once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.client import BigCommerceClient
from pipeline.extract import ExtractFilters, ExtractSession, ProgressCallback, extract_products
from pipeline.frames_builder import FramesBuilder

if TYPE_CHECKING:
    from pipeline.normalise import ModifierFrames


@dataclass(frozen=True)
class ExtractedFrames:
    """The normalised modifiers of the products read, and the ids of those products (with or
    without modifiers), in order."""

    frames: ModifierFrames
    product_ids: list[int]

    def summary(self) -> dict[str, int]:
        """`extract.summarise` of the products read: counts for logs and flow results."""
        return {"products": len(self.product_ids), "modifiers": len(self.frames.modifiers),
                "values": len(self.frames.values)}


async def extract_frames(
    client: BigCommerceClient,
    filters: ExtractFilters = ExtractFilters(),
    *,
    concurrency: int = 8,
    progress: ProgressCallback | None = None,
    session: ExtractSession | None = None,
) -> ExtractedFrames:
    """`products_to_frames(await extract_products(...))` without holding the products: same
    arguments, same requests, same frames (and `extras`)."""
    builder = FramesBuilder()
    await extract_products(client, filters, concurrency=concurrency, progress=progress, session=session,
                           on_page=builder.add)
    return ExtractedFrames(builder.frames(), builder.product_ids())
