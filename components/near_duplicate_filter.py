from functools import lru_cache

from haystack import Document, component


@lru_cache(maxsize=16384)
def _shingles(content: str, size: int = 5) -> frozenset[tuple[str, ...]]:
    """The chunk's word 5-grams (lower-cased); cached, since the same chunks come back query after query."""
    words = content.lower().split()
    return frozenset(tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1)))


def _containment(a: frozenset, b: frozenset) -> float:
    """Shared shingles over the smaller set's size: 1.0 when one chunk is contained in the other."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


@component
class NearDuplicateFilter:
    """
    Drops a chunk that repeats a better-ranked one, then keeps the first `top_k`.

    This corpus repeats itself (follow-up releases, round-ups, shared boilerplate, splitter chunks that
    only repeat the previous chunk's overlap). The documents are taken in the order given, best first;
    a chunk that shares at least `threshold` of its word 5-grams with a chunk already kept (containment:
    shared / the smaller chunk's, so a chunk contained in a longer one counts as a duplicate) is
    dropped, until `top_k` are kept. Documents are returned unchanged (scores included).

    Text, not embeddings: Haystack deep-copies every component input, and carrying 384 floats per
    candidate through the pipeline cost more than all retrieval.

    Why not Haystack's own: `DocumentJoiner` and the writers' `DuplicatePolicy` remove exact duplicates
    (same id) only; no Haystack component removes near-duplicate text.

    Before the split into this component and `PassageFocusRanker`, one ranker also had a maximal
    marginal relevance option (`diversity`) that penalised partial overlap; search.yml set it to 0,
    so it never ran, and it was removed.

    ### Usage example

    ```python
    from haystack import Document
    from components.near_duplicate_filter import NearDuplicateFilter

    text = "Deutsche Telekom builds 5G campus networks at the EUROGATE ports of Hamburg and Bremerhaven."
    ranked = [Document(content=text), Document(content="Update: " + text), Document(content="Another topic.")]
    kept = NearDuplicateFilter(top_k=5, threshold=0.6).run(documents=ranked)["documents"]
    print([d.content for d in kept])  # the first and the last: the second repeats the first
    ```
    """

    def __init__(self, top_k: int = 5, threshold: float = 0.6) -> None:
        """
        Creates a NearDuplicateFilter.

        :param top_k: How many documents to return at most.
        :param threshold: Share of word 5-grams shared with a kept chunk at or above which a chunk is a
            duplicate (above 1: nothing is dropped).
        :raises ValueError: If `threshold` is not above 0 (every chunk would duplicate every other).
        """
        if threshold <= 0:
            raise ValueError("threshold must be above 0")
        self.top_k = top_k
        self.threshold = threshold

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document], top_k: int | None = None) -> dict[str, list[Document]]:
        """
        Keep the first `top_k` documents that are not near-duplicates of a better-ranked one.

        :param documents: Documents best first (e.g. `PassageFocusRanker`'s output).
        :param top_k: Overrides the number of documents to return (0 or less: none).
        :returns: A dictionary with the following key:
            - `documents`: at most `top_k` documents, in the given order.
        """
        top_k = self.top_k if top_k is None else top_k
        kept: list[Document] = []
        kept_shingles: list[frozenset] = []
        for document in documents:
            if len(kept) >= top_k:
                break
            shingles = _shingles(document.content or "")
            if all(_containment(other, shingles) < self.threshold for other in kept_shingles):
                kept.append(document)
                kept_shingles.append(shingles)
        return {"documents": kept}
