"""The search side of `PersistentInMemoryDocumentStore`: an immutable, array-based index of one version, made
from the version before by applying only what changed.

Why not Haystack's own search: `InMemoryDocumentStore.bm25_retrieval` scores every document in Python on
each query (116-185 ms per BM25 + embedding query pair on our 1,613 chunks, against 6 ms here:
`scripts/store_matches_haystack.py`) and reads the live storage, which a writer changes meanwhile. This index
is never changed once published, so searches need no lock and always see one whole version.

What a new version costs grows with the change, not with the index (issue #23): rows are append-only (a
removed document's row is marked dead; a rewritten one is a new row at the end, as Haystack moves an
overwritten document to the end of its storage), postings of the tokens a change touches are extended,
the vectors are written into spare rows of a buffer the versions share (each version reads only its own
rows), and metadata filters run on per-field columns made once and extended with the new rows. When a
fifth of the rows are dead the index is compacted (rows renumbered, postings remapped: no re-tokenizing).

Kept to Haystack's definitions, not copies of them:
- tokens and BM25 statistics are Haystack's `BM25DocumentStats` from the store's own tokenizer
  (`InMemoryDocumentStore._tokenize_bm25`);
- score scaling uses Haystack's exported `BM25_SCALING_FACTOR`, `DOT_PRODUCT_SCALING_FACTOR` and `expit`;
- BM25L is Haystack's formula (`InMemoryDocumentStore._score_bm25l`, with its default parameters
  k1=1.5, b=0.75, delta=0.5), evaluated over an inverted index in float64. Haystack does not export that
  formula in a vectorised form; `tests/stores/inmemory/test_store_search_index.py` holds it to Haystack's
  own store (same documents, same order, scores within 1e-9), so a change of Haystack's BM25L fails that test;
- filters are Haystack's semantics (`haystack.utils.filters`): a column answers only comparisons whose
  result it gives exactly (`==`/`in` of plain values, `<`… on numbers); any other comparison is evaluated
  by Haystack's `document_matches_filter` itself, on exactly the documents Haystack's short-circuit
  evaluation would reach (`stores/inmemory/filter_columns.py`).

```python
index = StoreSearchIndex.build(documents, stats=store_stats, version=3)
hits = index.bm25_retrieval(store._tokenize_bm25("5G campus network"), top_k=5)
```
"""

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from haystack import Document
from haystack.document_stores.in_memory.document_store import (
    BM25_SCALING_FACTOR,
    DOT_PRODUCT_SCALING_FACTOR,
    BM25DocumentStats,
)
from haystack.utils import expit

from stores.inmemory.filter_columns import FilterColumns
from stores.inmemory.index_file import StoredDocument

# The defaults of Haystack's BM25L (`InMemoryDocumentStore._score_bm25l`, not exported as constants):
# `bm25_parameters` overrides them exactly as it does there.
_BM25L_DEFAULTS = {"k1": 1.5, "b": 0.75, "delta": 0.5}
# Compact when this share of the rows is dead (and at least _MIN_DEAD rows are).
_COMPACT_SHARE, _MIN_DEAD = 0.2, 256

Stats = Callable[[Document], BM25DocumentStats | None]


class _Rows:
    """A float64 matrix that grows by whole rows, shared by successive versions: a version appends into the
    spare rows only when it extends the newest version (no one else reads those rows yet); else it copies."""

    def __init__(self, dims: int, capacity: int) -> None:
        self.buffer = np.zeros((max(capacity, 16), dims), dtype=np.float64)
        self.used = 0
        self._lock = threading.Lock()

    def extended(self, length: int, rows: np.ndarray) -> "_Rows":
        """The buffer holding this buffer's first `length` rows followed by `rows` (self, or a grown copy)."""
        with self._lock:
            if length == self.used and length + len(rows) <= len(self.buffer):
                self.buffer[length : length + len(rows)] = rows
                self.used = length + len(rows)
                return self
        grown = _Rows(self.buffer.shape[1], int((length + len(rows)) * 1.25) + 64)
        grown.buffer[:length] = self.buffer[:length]
        grown.buffer[length : length + len(rows)] = rows
        grown.used = length + len(rows)
        return grown


class _LiveDocuments(Mapping[str, Document]):
    """The documents of one version by id (read-only), what the parent's `storage` is for readers."""

    def __init__(self, index: "StoreSearchIndex") -> None:
        self._index = index

    def __getitem__(self, doc_id: str) -> Document:
        return self._index.rows[self._index.row_of[doc_id]]  # type: ignore[return-value]

    def __iter__(self) -> Iterator[str]:
        return (d.id for d in self._index.documents)

    def __len__(self) -> int:
        return len(self._index.row_of)


class StoreSearchIndex:
    """One version of the documents: an inverted index for BM25L, a matrix for embedding search, filter columns.

    Treat as immutable: every attribute is fixed when the version is made (the filter columns are made on
    first use and kept). Documents are held without their dense vector (it is a row of the matrix, or, for a
    vector of another length than the matrix's, kept on the document); `document(row)` puts it back.
    """

    def __init__(
        self,
        rows: tuple[Document | None, ...],
        alive: np.ndarray,
        row_of: dict[str, int],
        postings: dict[str, tuple[np.ndarray, np.ndarray]],
        doc_lengths: np.ndarray,
        content_docs: int,
        content_tokens: int,
        vectors: _Rows,
        has_embedding: np.ndarray,
        version: int,
        columns: FilterColumns | None = None,
    ) -> None:
        self.rows = rows  # storage order; None where a document was removed
        self.alive = alive
        self.row_of = row_of
        self.postings = postings  # token -> (rows, term frequencies), dead rows included
        self.doc_lengths = doc_lengths  # tokens per row (0 without content)
        self.content_docs = content_docs  # live documents with content (Haystack's N)
        self.content_tokens = content_tokens  # their tokens (for the average length, exact)
        self.vectors = vectors
        self.has_embedding = has_embedding
        self.version = version
        self.columns = columns or FilterColumns(self)
        self._documents: tuple[Document, ...] | None = None
        self._groups: dict[tuple[str, ...], Counter] = {}  # meta_value_counts, made on first use, then carried

    # --- one version from documents, or from the version before and a change ---------------------

    @classmethod
    def build(cls, documents: Iterable[Document | StoredDocument], stats: Stats, version: int = 0) -> "StoreSearchIndex":
        """Index `documents` (storage order); `stats(doc)` gives a document's BM25 statistics (None: no content)."""
        stored = [d if isinstance(d, StoredDocument) else _split(d) for d in documents]
        dims = next((len(d.embedding) for d in stored if d.embedding is not None), 0)
        empty = cls((), np.zeros(0, dtype=bool), {}, {}, np.zeros(0), 0, 0, _Rows(dims, len(stored)), np.zeros(0, dtype=bool), version)
        return empty._appended(stored, stats, version, dims=dims)

    def apply(self, deleted: Iterable[str], inserted: Sequence[StoredDocument], replaced: Sequence[Document],
              stats: Stats, version: int, cleared: bool = False) -> "StoreSearchIndex":
        """The next version: `deleted` ids gone (every document when `cleared`), `replaced` documents changed in
        place (meta only: same content, same vector), `inserted` appended in order. Costs what changed, not
        the index (a compaction now and then aside)."""
        if cleared:
            return StoreSearchIndex.build(inserted, stats, version)
        # a document written again is a delete and an insert, whether or not the caller listed its id; written
        # twice in one change, the later one counts (Haystack's store moves it to the end each time)
        last: dict[str, StoredDocument] = {}
        for stored in inserted:
            last.pop(stored.document.id, None)
            last[stored.document.id] = stored
        inserted = list(last.values())
        deleted = set(deleted) | {doc_id for doc_id in last if doc_id in self.row_of}
        if self.vectors.buffer.shape[1] == 0 and any(d.embedding is not None for d in inserted):
            # the first vectors of this index: the matrix gets its width now, so build it whole
            gone = set(deleted)
            kept = [d for d in self.documents if d.id not in gone]
            by_id = {d.id: d for d in replaced}
            kept = [StoredDocument(by_id.get(d.id, d), None) for d in kept]
            return StoreSearchIndex.build([*kept, *inserted], stats, version)
        alive = self.alive.copy()
        rows = list(self.rows)
        row_of = dict(self.row_of)
        content_docs, content_tokens = self.content_docs, self.content_tokens
        groups = {fields: Counter(counts) for fields, counts in self._groups.items()}
        removed: list[Document] = []
        for doc_id in deleted:
            row = row_of.pop(doc_id, None)
            if row is None:
                continue
            removed.append(self.rows[row])  # type: ignore[arg-type]
            alive[row] = False
            rows[row] = None
            if self.rows[row].content is not None:  # type: ignore[union-attr]
                content_docs -= 1
                content_tokens -= int(self.doc_lengths[row])
        for doc in replaced:
            row = row_of[doc.id]
            before = rows[row]
            if before is None or before.content != doc.content:
                raise ValueError(f"document {doc.id} changed its content in place: write it anew instead")
            rows[row] = replace(doc, embedding=before.embedding)  # a vector of another length stays on it
            removed.append(before)
        for fields, counts in groups.items():
            _count(counts, fields, removed, -1)
            _count(counts, fields, replaced, +1)
        changed = StoreSearchIndex(tuple(rows), alive, row_of, self.postings, self.doc_lengths, content_docs,
                                   content_tokens, self.vectors, self.has_embedding, version,
                                   self.columns if not replaced else None)
        if not replaced:
            changed.columns = self.columns.carried_to(changed)
        result = changed._appended(list(inserted), stats, version) if inserted else changed
        for fields, counts in groups.items():
            _count(counts, fields, [d.document for d in inserted], +1)
            result._groups[fields] = +counts  # without the combinations no document holds any more
        dead = len(result.rows) - len(result.row_of)
        if dead >= _MIN_DEAD and dead > _COMPACT_SHARE * len(result.rows):
            return result.compacted()
        return result

    def _appended(self, added: list[StoredDocument], stats: Stats, version: int, dims: int | None = None) -> "StoreSearchIndex":
        """This version with `added` appended (a document already here is moved: its old row dies)."""
        start = len(self.rows)
        rows = list(self.rows)
        alive = list(self.alive)
        row_of = dict(self.row_of)
        content_docs, content_tokens = self.content_docs, self.content_tokens
        dims = self.vectors.buffer.shape[1] if dims is None else dims
        lengths: list[float] = []
        has_vector: list[bool] = []
        vectors: list[np.ndarray] = []
        new_rows: dict[str, list[int]] = defaultdict(list)
        new_freqs: dict[str, list[float]] = defaultdict(list)
        for stored in added:
            doc = stored.document
            moved = row_of.get(doc.id)
            if moved is not None:  # a document of this version written again: its old row dies
                alive[moved] = False
                if rows[moved].content is not None:  # type: ignore[union-attr]
                    content_docs -= 1
                    content_tokens -= int(self.doc_lengths[moved] if moved < start else lengths[moved - start])
                rows[moved] = None
            row = len(rows)
            vector = stored.embedding
            fits = vector is not None and dims > 0 and len(vector) == dims
            rows.append(doc if fits or vector is None else replace(doc, embedding=vector.tolist()))
            alive.append(True)
            row_of[doc.id] = row
            has_vector.append(fits)
            vectors.append(vector if fits else np.zeros(dims))
            doc_stats = stats(doc) if doc.content is not None else None
            if doc_stats is None:
                lengths.append(0.0)
                continue
            content_docs += 1
            content_tokens += doc_stats.doc_len
            lengths.append(float(doc_stats.doc_len))
            for token, freq in doc_stats.freq_token.items():
                new_rows[token].append(row)
                new_freqs[token].append(freq)
        postings = dict(self.postings)
        for token, token_rows in new_rows.items():
            grown_rows, grown_freqs = np.array(token_rows, dtype=np.int64), np.array(new_freqs[token], dtype=np.float64)
            old = postings.get(token)
            postings[token] = (grown_rows, grown_freqs) if old is None else (np.concatenate((old[0], grown_rows)), np.concatenate((old[1], grown_freqs)))
        matrix = self.vectors.extended(start, np.array(vectors, dtype=np.float64).reshape(len(vectors), dims)) if added else self.vectors
        result = StoreSearchIndex(
            tuple(rows), np.array(alive, dtype=bool), row_of, postings, np.concatenate((self.doc_lengths, lengths)),
            content_docs, content_tokens, matrix, np.concatenate((self.has_embedding, np.array(has_vector, dtype=bool))), version,
        )
        result.columns = self.columns.carried_to(result)
        return result

    def compacted(self) -> "StoreSearchIndex":
        """The same version without dead rows (postings remapped, nothing tokenized again)."""
        live = np.flatnonzero(self.alive)
        new_row = np.full(len(self.rows), -1, dtype=np.int64)
        new_row[live] = np.arange(len(live))
        postings = {}
        for token, (token_rows, freqs) in self.postings.items():
            keep = self.alive[token_rows]
            if keep.any():
                postings[token] = (new_row[token_rows[keep]], freqs[keep])
        rows = tuple(self.rows[r] for r in live)
        matrix = _Rows(self.vectors.buffer.shape[1], int(len(live) * 1.25) + 64)
        matrix = matrix.extended(0, self.vectors.buffer[live])
        compact = StoreSearchIndex(rows, np.ones(len(live), dtype=bool), {d.id: i for i, d in enumerate(rows)}, postings,  # type: ignore[union-attr]
                                   self.doc_lengths[live], self.content_docs, self.content_tokens, matrix,
                                   self.has_embedding[live], self.version)
        compact._groups = self._groups
        return compact

    # --- reads ---------------------------------------------------------------------------------------

    @property
    def documents(self) -> tuple[Document, ...]:
        """The live documents in storage order (without their vectors)."""
        if self._documents is None:
            self._documents = tuple(d for d in self.rows if d is not None)
        return self._documents

    @property
    def by_id(self) -> Mapping[str, Document]:
        """The live documents by id, read-only (without their vectors)."""
        return _LiveDocuments(self)

    def meta_value_counts(self, fields: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
        """How many documents hold each combination of values of these meta fields (None where missing).

        Counted once, then carried from version to version by what changed (as the search index itself)."""
        counts = self._groups.get(fields)
        if counts is None:
            counts = Counter()
            _count(counts, fields, self.documents, +1)
            self._groups[fields] = counts
        return dict(counts)

    @property
    def avg_doc_len(self) -> float:
        return self.content_tokens / self.content_docs if self.content_docs else 0.0

    @property
    def matrix(self) -> np.ndarray:
        return self.vectors.buffer[: len(self.rows)]

    def document(self, row: int, with_embedding: bool = True, score: float | None = None) -> Document:
        """The document of `row`, with its vector (as Haystack's store returns it) if asked, and a score."""
        doc = self.rows[row]
        assert doc is not None
        if with_embedding:
            embedding = self.matrix[row].tolist() if self.has_embedding[row] else doc.embedding
        else:
            embedding = None
        if score is None and embedding is doc.embedding:
            return doc
        return replace(doc, embedding=embedding, score=doc.score if score is None else score)

    def filter_rows(self, filters: dict[str, Any] | None, strict_datetime_comparison: bool = False) -> np.ndarray:
        """Rows of the live documents matching `filters` (Haystack's semantics), in storage order."""
        if not filters:
            return np.flatnonzero(self.alive)
        return np.flatnonzero(self.columns.mask(filters, self.alive, strict_datetime_comparison))

    def filter_documents(self, filters: dict[str, Any] | None = None, strict_datetime_comparison: bool = False,
                         return_embedding: bool = True) -> list[Document]:
        if not filters and not return_embedding:
            return list(self.documents)
        return [self.document(r, return_embedding) for r in self.filter_rows(filters, strict_datetime_comparison)]

    def bm25_scores(self, query_tokens: list[str], bm25_parameters: dict[str, float] | None = None) -> np.ndarray:
        """BM25L score of every row (0 where no query token occurs), as Haystack's `_score_bm25l`."""
        params = {**_BM25L_DEFAULTS, **(bm25_parameters or {})}
        k1, b, delta = params["k1"], params["b"], params["delta"]
        scores = np.zeros(len(self.rows), dtype=np.float64)
        avg_doc_len = self.avg_doc_len
        if avg_doc_len == 0:  # a tokenless corpus: Haystack scores 0 (then drops it) too
            return scores
        all_alive = len(self.row_of) == len(self.rows)
        for token in dict.fromkeys(query_tokens):  # each distinct token once, in query order
            posting = self.postings.get(token)
            if posting is None:
                continue
            rows, tf = posting
            if not all_alive:
                live = self.alive[rows]
                rows, tf = rows[live], tf[live]
                if len(rows) == 0:
                    continue
            idf = math.log((self.content_docs + 1.0) / (len(rows) + 0.5))
            ctd = tf / (1 - b + b * self.doc_lengths[rows] / avg_doc_len)
            scores[rows] += idf * ((1.0 + k1) * (ctd + delta) / (k1 + ctd + delta))
        return scores

    def bm25_retrieval(
        self,
        query_tokens: list[str],
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = True,
        bm25_parameters: dict[str, float] | None = None,
        strict_datetime_comparison: bool = False,
    ) -> list[Document]:
        """The `top_k` documents by BM25L, best first; documents no query token occurs in are left out."""
        scores = self.bm25_scores(query_tokens, bm25_parameters)
        candidates = np.flatnonzero(scores > 0)
        candidates = candidates[self.alive[candidates]]
        candidates = self._matching(candidates, filters, strict_datetime_comparison)
        return [
            self.document(row, return_embedding, expit(scores[row] / BM25_SCALING_FACTOR) if scale_score else float(scores[row]))
            for row in _best(scores, candidates, top_k)
        ]

    def embedding_retrieval(
        self,
        query_embedding: list[float],
        similarity: str = "dot_product",
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        scale_score: bool = False,
        return_embedding: bool = False,
        strict_datetime_comparison: bool = False,
    ) -> list[Document]:
        """The `top_k` documents with an embedding by `similarity` ("dot_product" or "cosine"), best first."""
        candidates = self._matching(np.flatnonzero(self.has_embedding & self.alive), filters, strict_datetime_comparison)
        if len(candidates) == 0:
            return []
        query = np.asarray(query_embedding, dtype=np.float64)
        matrix = self.matrix
        if similarity == "cosine":  # zero-norm vectors divide by 1, as in Haystack
            query = query / (np.linalg.norm(query) or 1.0)
            norms = np.linalg.norm(matrix, axis=1)
            scores = (matrix / np.where(norms == 0, 1.0, norms)[:, None]) @ query
        else:
            scores = matrix @ query

        def scaled(score: float) -> float:
            if not scale_score:
                return float(score)
            return (score + 1) / 2 if similarity == "cosine" else expit(score / DOT_PRODUCT_SCALING_FACTOR)

        return [self.document(row, return_embedding, scaled(scores[row])) for row in _best(scores, candidates, top_k)]

    def _matching(self, candidates: np.ndarray, filters: dict[str, Any] | None, strict: bool) -> np.ndarray:
        if not filters:
            return candidates
        mask = self.columns.mask(filters, self.alive, strict)
        return candidates[mask[candidates]]


def _count(counts: Counter, fields: tuple[str, ...], documents: Iterable[Document], sign: int) -> None:
    for doc in documents:
        counts[tuple(_hashable(doc.meta.get(f)) for f in fields)] += sign


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _split(document: Document) -> StoredDocument:
    if document.embedding is None:
        return StoredDocument(document, None)
    return StoredDocument(replace(document, embedding=None), np.asarray(document.embedding, dtype=np.float64))


def tokenizing_stats(tokenize: Callable[[str], list[str]]) -> Stats:
    """BM25 statistics made by `tokenize` (the store's `_tokenize_bm25`), as Haystack's `write_documents` does."""

    def stats(document: Document) -> BM25DocumentStats | None:
        if document.content is None:
            return None
        tokens = tokenize(document.content)
        return BM25DocumentStats(Counter(tokens), len(tokens))

    return stats


def _best(scores: np.ndarray, candidates: np.ndarray, top_k: int) -> np.ndarray:
    """Rows of the `top_k` best scores among `candidates` (ascending rows), best first; equal scores keep
    storage order, also at the cut, as Haystack's stable sort does. Selects before sorting, so the cost is
    that of a partition over the candidates, not of sorting them all."""
    if top_k <= 0 or len(candidates) == 0:
        return candidates[:0]
    values = scores[candidates]
    if len(candidates) > top_k:
        threshold = np.partition(values, len(values) - top_k)[len(values) - top_k]
        keep = values >= threshold  # every tie of the k-th score, so the stable sort can choose among them
        candidates, values = candidates[keep], values[keep]
    return candidates[np.argsort(-values, kind="stable")[:top_k]]
