import re
from typing import Any

import numpy as np
from haystack import Document, component
from haystack.dataclasses import ChatMessage

from kit.citations import CITATION as _CITATION
from kit.text_terms import content_terms, sentences

# A sentence of an answer ends after its citations: "… in 2024. [2]" or "… in 2024 [2]."
_ANSWER_SENTENCE = re.compile(r"(?<=[.!?\]])\s+(?=[A-Z0-9\"“(])")


def answer_sentences(answer: str) -> list[str]:
    """The sentences of an answer, each keeping the citations that follow it."""
    return [s.strip() for s in _ANSWER_SENTENCE.split(answer.strip()) if s.strip()]


def cited_numbers(sentence: str) -> list[int]:
    """The source numbers a sentence cites, in order, without repeats."""
    numbers: list[int] = []
    for group in _CITATION.findall(sentence):
        for number in re.split(r"\s*[,;]\s*", group):
            if int(number) not in numbers:
                numbers.append(int(number))
    return numbers


def lexical_support(claim_terms: set[str], source: str) -> float:
    """Share of the claim's content words (numbers count double) that the source contains."""
    if not claim_terms:
        return 1.0
    source_terms = set(content_terms(source))
    weight = {t: 2.0 if any(c.isdigit() for c in t) else 1.0 for t in claim_terms}
    return sum(w for t, w in weight.items() if t in source_terms) / sum(weight.values())


@component
class CitationChecker:
    """
    Checks each sentence of a generated answer against the sources it cites, and flags the unsupported ones.

    A sentence is supported when one of the sources it cites as [n] holds its content: the share of the
    sentence's content words found in the source (lexical support, figures weighing double) reaches
    `min_lexical`, or the sentence's embedding is close to one of the source's sentences (cosine at
    least `min_similarity`, with the same embedding model as retrieval) while the lexical support is at
    least `min_lexical_with_similarity`. A citation outside 1..len(documents) never supports. Sentences
    without any citation are not checked (a refusal, a closing remark).

    Haystack's own evaluators (FaithfulnessEvaluator, ContextRelevanceEvaluator) need an LLM and judge the
    answer as a whole; this runs without one and per citation, after every generation.

    ### Usage example

    After the generator, as in generate.yml:

    ```python
    from haystack import Document
    from haystack.dataclasses import ChatMessage

    from components.citation_checker import CitationChecker

    checker = CitationChecker(model="sentence-transformers/all-MiniLM-L6-v2")
    checker.warm_up()
    docs = [Document(content="Deutsche Telekom opened its Quantum Lab in Berlin.")]
    result = checker.run(replies=[ChatMessage.from_assistant("Telekom opened a lab in Munich. [1]")], documents=docs)
    # result["unsupported_citations"]: [{"sentence": "Telekom opened a lab in Munich. [1]", "cited": [1], ...}]
    ```
    """

    def __init__(
        self,
        model: str | None = "sentence-transformers/all-MiniLM-L6-v2",
        min_lexical: float = 0.8,
        min_similarity: float = 0.75,
        min_lexical_with_similarity: float = 0.3,
        max_seq_length: int = 256,
        local_files_only: bool = False,
    ) -> None:
        """
        :param model: Sentence-transformers model for the embedding check; None: lexical check only.
        :param min_lexical: Lexical support at which a source supports a sentence on its own.
        :param min_similarity: Cosine similarity to one of the source's sentences that counts as support...
        :param min_lexical_with_similarity: ...when the lexical support is also at least this.
        :param max_seq_length: Tokens per sentence the model reads (MiniLM was trained on 256).
        :param local_files_only: Load the model from the local Hugging Face cache only, never asking a hub.
        """
        for name, value in (("min_lexical", min_lexical), ("min_similarity", min_similarity),
                            ("min_lexical_with_similarity", min_lexical_with_similarity)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        self.model = model
        self.min_lexical = min_lexical
        self.min_similarity = min_similarity
        self.min_lexical_with_similarity = min_lexical_with_similarity
        self.max_seq_length = max_seq_length
        self.local_files_only = local_files_only
        self._encoder = None

    def warm_up(self) -> None:
        """Load the embedding model (once)."""
        if self.model and self._encoder is None:
            from sentence_transformers import SentenceTransformer

            self._encoder = SentenceTransformer(self.model, device="cpu", local_files_only=self.local_files_only)
            self._encoder.max_seq_length = self.max_seq_length

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False))

    def check(self, answer: str, documents: list[Document]) -> list[dict[str, Any]]:
        """The answer's cited sentences that none of their sources supports, with the support measured."""
        unsupported = []
        for sentence in answer_sentences(answer):
            cited = cited_numbers(sentence)
            if not cited:
                continue
            claim = _CITATION.sub(" ", sentence)
            terms = set(content_terms(claim))
            valid = [n for n in cited if 1 <= n <= len(documents)]
            lexical = {n: lexical_support(terms, documents[n - 1].content or "") for n in valid}
            if any(value >= self.min_lexical for value in lexical.values()):
                continue
            similarity = {n: 0.0 for n in valid}
            candidates = [n for n in valid if lexical[n] >= self.min_lexical_with_similarity]
            if candidates and self._encoder is not None:
                claim_vector = self._embed([claim])[0]
                for n in candidates:
                    source_sentences = sentences(documents[n - 1].content or "") or [documents[n - 1].content or ""]
                    similarity[n] = float(np.max(self._embed(source_sentences) @ claim_vector))
                if any(similarity[n] >= self.min_similarity for n in candidates):
                    continue
            unsupported.append(
                {
                    "sentence": sentence,
                    "cited": cited,
                    "invalid": [n for n in cited if n not in valid],
                    "lexical_support": {str(n): round(v, 3) for n, v in lexical.items()},
                    "similarity": {str(n): round(v, 3) for n, v in similarity.items()},
                }
            )
        return unsupported

    @component.output_types(replies=list[ChatMessage], unsupported_citations=list[dict])
    def run(self, replies: list[ChatMessage], documents: list[Document]) -> dict[str, Any]:
        """
        Check the first reply's cited sentences against `documents` (numbered from 1).

        :param replies: The generator's replies; passed on unchanged.
        :param documents: The sources the prompt numbered [1], [2] …
        :returns: `replies` and `unsupported_citations`: per unsupported sentence its text, the numbers it
            cites, the invalid ones among them, and the lexical and embedding support per cited source.
        """
        if self.model and self._encoder is None:
            self.warm_up()
        text = (replies[0].text or "") if replies else ""
        return {"replies": replies, "unsupported_citations": self.check(text, documents)}
