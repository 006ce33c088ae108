from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.document_stores.types import DocumentStore, DuplicatePolicy


@component
class SourceReplacingWriter:
    """
    Writes the chunks of some releases and removes the chunks those releases had before.

    Chunk ids hash content and meta, so re-indexing an unchanged release overwrites its chunks in place
    (the count stays the same), while an edited release gets new ids: its outdated chunks, found by
    `meta.<source_field>`, are deleted after the new ones are written.

    With a store that offers `transaction()` (`PersistentInMemoryDocumentStore`) the write and the delete
    are one version: readers and a restart after a crash see the old chunks or the new ones, never both.
    Other stores (Elasticsearch, OpenSearch: no multi-request transactions) get write-then-delete, so a
    crash in between leaves extra chunks, never a release with none; re-indexing it removes them.
    Haystack's `DocumentWriter` only writes: it never removes the chunks an edit made obsolete.

    Input: `documents` (chunks with `meta.<source_field>`). Outputs: `documents_written`,
    `documents_removed`, and `releases`: what happened to each release, `added` (it had no chunks),
    `unchanged` (its chunks were already these) or `replaced`, so that a reply can say so per release.
    A release that sent no chunk (its text cleaned to nothing) never reaches the writer: the caller knows
    what it sent. Works with any document store that supports filters.

    ### Usage example

    ```python
    from haystack import Document
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from components.source_replacing_writer import SourceReplacingWriter

    writer = SourceReplacingWriter(document_store=InMemoryDocumentStore(), source_field="file_path")
    writer.run(documents=[Document(content="First text.", meta={"file_path": "1.txt"})])
    result = writer.run(documents=[Document(content="Edited text.", meta={"file_path": "1.txt"})])
    # result: {"documents_written": 1, "documents_removed": 1, "releases": {"1.txt": "replaced"}}
    ```
    """

    def __init__(
        self, document_store: DocumentStore, policy: DuplicatePolicy = DuplicatePolicy.OVERWRITE, source_field: str = "file_path"
    ) -> None:
        """
        :param document_store: Where the chunks go.
        :param policy: Duplicate policy; OVERWRITE keeps re-indexing idempotent.
        :param source_field: The meta field that names a chunk's release.
        """
        self.document_store = document_store
        self.policy = policy
        self.source_field = source_field

    def to_dict(self) -> dict[str, Any]:
        """Serialize the component (the policy by name, as Haystack's DocumentWriter does)."""
        return default_to_dict(
            self, document_store=self.document_store, policy=self.policy.name, source_field=self.source_field
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SourceReplacingWriter":
        """Deserialize the component; `policy` is given by name, e.g. OVERWRITE."""
        init_params = data.get("init_parameters", {})
        if isinstance(init_params.get("policy"), str):
            init_params["policy"] = DuplicatePolicy[init_params["policy"]]
        return default_from_dict(cls, data)

    @component.output_types(documents_written=int, documents_removed=int, releases=dict[str, str])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """
        Write `documents`, then delete the other chunks of the same releases.

        :param documents: Chunks to write.
        :returns: `documents_written`, `documents_removed` (outdated chunks deleted) and `releases` (release ->
            `added`, `unchanged` or `replaced`).
        """
        transaction = getattr(self.document_store, "transaction", None)
        if transaction is None:
            return self._replace(documents)
        with transaction():
            return self._replace(documents)

    def _replace(self, documents: list[Document]) -> dict[str, Any]:
        sources = sorted({doc.meta[self.source_field] for doc in documents if self.source_field in doc.meta})
        before: dict[str, set[str]] = {source: set() for source in sources}
        if sources:
            for doc in self.document_store.filter_documents(
                filters={"field": f"meta.{self.source_field}", "operator": "in", "value": sources}
            ):
                before[doc.meta[self.source_field]].add(doc.id)
        written = self.document_store.write_documents(documents=documents, policy=self.policy)
        new_ids: dict[str, set[str]] = {source: set() for source in sources}
        for doc in documents:
            if self.source_field in doc.meta:
                new_ids[doc.meta[self.source_field]].add(doc.id)
        stale = [doc_id for source in sources for doc_id in before[source] - new_ids[source]]
        if stale:
            self.document_store.delete_documents(stale)
        releases = {
            source: "added" if not before[source] else "unchanged" if before[source] == new_ids[source] else "replaced"
            for source in sources
        }
        return {"documents_written": written, "documents_removed": len(stale), "releases": releases}
