import re

from haystack import Document, component

_LAST_WHITESPACE = re.compile(r"\s(?=\S*$)")


@component
class CharacterLimitSplitter:
    """
    Cuts every chunk longer than `max_chars` characters into consecutive pieces of at most `max_chars`.

    Haystack's `RecursiveDocumentSplitter` counts words (index.yml's splitter), so a run of text without spaces
    stays whole: a 999,000-character line was one chunk, and one search reply carried 2 MB of it, one ask 3 MB, its
    prompt ~2 MB. A second `RecursiveDocumentSplitter` counting characters would re-split every chunk and renumber
    its offsets; this one leaves chunks within the limit untouched (same ids), and cuts a longer one at its last
    whitespace before the limit (in its second half), else at the limit. The pieces keep the chunk's meta, with
    `split_idx_start` moved to where each starts, so that `/releases/{file}` still stitches the release together.

    Input: `documents` (chunks). Output: `documents`, each at most `max_chars` long.

    ### Usage example

    ```python
    from haystack import Document

    from components.character_limit_splitter import CharacterLimitSplitter

    chunk = Document(content="a" * 2500 + " The end.", meta={"file_path": "x.txt", "split_idx_start": 0})
    pieces = CharacterLimitSplitter(max_chars=1000).run(documents=[chunk])["documents"]
    print([len(p.content) for p in pieces], [p.meta["split_idx_start"] for p in pieces])  # [1000, 1000, 509] [0, 1000, 2000]
    ```
    """

    def __init__(self, max_chars: int = 2000) -> None:
        """
        :param max_chars: The longest chunk, in characters.
        """
        if max_chars < 2:
            raise ValueError("max_chars must be at least 2")
        self.max_chars = max_chars

    def _pieces(self, text: str) -> list[str]:
        pieces, start = [], 0
        while len(text) - start > self.max_chars:
            window = text[start : start + self.max_chars]
            space = _LAST_WHITESPACE.search(window)
            end = start + (space.end() if space and space.end() > self.max_chars // 2 else self.max_chars)
            pieces.append(text[start:end])
            start = end
        pieces.append(text[start:])
        return pieces

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """
        Cut the chunks longer than `max_chars`; pass the others on unchanged.

        :param documents: Chunks, e.g. from a splitter.
        :returns: `documents`: the chunks, the long ones replaced by their pieces, in order.
        """
        result = []
        for doc in documents:
            text = doc.content or ""
            if len(text) <= self.max_chars:
                result.append(doc)
                continue
            offset = 0
            for piece in self._pieces(text):
                meta = dict(doc.meta)
                if isinstance(meta.get("split_idx_start"), int):
                    meta["split_idx_start"] += offset
                result.append(Document(content=piece, meta=meta))
                offset += len(piece)
        return {"documents": result}
