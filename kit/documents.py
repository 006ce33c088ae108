"""The JSON shape of a retrieved chunk in every reply (search results, cited sources)."""

from typing import Any

from haystack import Document

# Splitter bookkeeping that means nothing to a reader of the reply.
_INTERNAL_META = {"_split_overlap", "source_id", "parent_id", "page_number", "content_sha256"}


def document_to_json(doc: Document) -> dict[str, Any]:
    """`{id, content, score, meta}` without the embedding and the splitter's internal meta."""
    meta = {k: v for k, v in doc.meta.items() if k not in _INTERNAL_META}
    return {"id": doc.id, "content": doc.content or "", "score": doc.score, "meta": meta}
