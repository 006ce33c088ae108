from dataclasses import replace
import numpy as np
from haystack import Document, component

from components.passage_focus_ranker import PassageFocusRanker
from kit.evidence import EvidenceModel, Question, chunk_features, prepare_chunk, resolve_model_path, units_of


@component
class EvidenceRanker:
    """
    Orders retrieved chunks by the evidence that they answer the question, with weights learned from real questions.

    Two small fitted models (`kit/evidence.py`, trained by `pressqa-train`) work in turn:
    - each **answer unit** (sentence) of every candidate gets a score from its coverage of the question's words
      (names and figures double), whether it holds the kind of answer asked for (a sum of money, a date, a name …)
      and where it stands;
    - each **chunk** then gets a score from its fused retrieval score, its BM25 and embedding scores, the passage
      focus of `PassageFocusRanker`, its place in its release, its title's and its own coverage of the question,
      the best fused score of its release, and the scores of its best units.

    Every document is returned, best first, `score` set to the chunk model's probability; cutting to `top_k` is left
    to the next component (`NearDuplicateFilter`), which must see the chunks below the cut.

    Why not Haystack's rankers: `SentenceTransformersSimilarityRanker` needs a cross-encoder, and none with weights
    installs here (../shared/NOTES.md); `MetaFieldRanker` ranks by one field. This one combines the signals the
    pipeline already has, as measured on the development questions (README, "Results").

    ### Usage example

    ```python
    from haystack import Document
    from components.evidence_ranker import EvidenceRanker

    ranker = EvidenceRanker(model_path="models/evidence_model.json")
    ranker.warm_up()
    documents = [
        Document(content="Telekom opened a shop in Bonn. The shop sells phones.", score=0.9, meta={"file_path": "1.txt"}),
        Document(content="Telekom builds 5G campus networks in Hamburg and Bremerhaven for EUROGATE.", score=0.8,
                 meta={"file_path": "2.txt"}),
    ]
    result = ranker.run(documents=documents, query="Where does Telekom build 5G campus networks for EUROGATE?")
    print(result["documents"][0].meta["file_path"])  # 2.txt
    ```
    """

    def __init__(self, model_path: str = "models/evidence_model.json") -> None:
        """
        Creates an EvidenceRanker.

        :param model_path: The fitted evidence model (JSON, written by `pressqa-train`); a relative path is taken from
            the repository's root.
        """
        self.model_path = model_path
        self.model: EvidenceModel | None = None
        self._focus = PassageFocusRanker(focus_weight=1.0)

    def warm_up(self) -> None:
        """Load the fitted model."""
        if self.model is None:
            self.model = EvidenceModel.load(resolve_model_path(self.model_path))

    def prepare(self, documents: list[Document]) -> None:
        """
        Work out ahead what ranking needs of every sentence of `documents` for any question (terms, names, figures,
        kinds of answer): called at start with an index's chunks, the first questions do not pay for it. The caches
        hold `kit.evidence.PREPARED_CHUNKS` chunks; beyond that, the least recently used make room.

        :param documents: The chunks of the index.
        """
        for doc in documents:
            prepare_chunk(doc.content or "", str(doc.meta.get("title") or ""))
        self._focus.prepare(documents)

    @component.output_types(documents=list[Document])
    def run(
        self,
        documents: list[Document],
        query: str = "",
        bm25_documents: list[Document] | None = None,
        embedding_documents: list[Document] | None = None,
    ) -> dict[str, list[Document]]:
        """
        Order `documents` by the evidence that they answer `query`, best first.

        :param documents: Fused retrieval results with their fused scores.
        :param query: The question (empty: the documents are returned as given).
        :param bm25_documents: The BM25 retriever's results, for their scores.
        :param embedding_documents: The embedding retriever's results, for their scores.
        :returns: A dictionary with the following key:
            - `documents`: all the documents, best first, `score` set to the probability that the chunk holds the
              answer; equal scores keep the input order.
        """
        if not documents or not query:
            return {"documents": list(documents)}
        self.warm_up()
        question = Question.of(query)
        units = units_of(question, documents)
        unit_scores = self.model.unit.decision(units.features) if units.rows else np.zeros(0)
        features = chunk_features(
            question, documents, self._focus.focus_scores(query, documents),
            {d.id: d.score or 0.0 for d in bm25_documents or []},
            {d.id: d.score or 0.0 for d in embedding_documents or []},
            units, unit_scores,
        )
        probability = self.model.chunk.probability(features)
        order = sorted(range(len(documents)), key=lambda i: -probability[i])  # stable: ties keep the fused order
        return {"documents": [replace(documents[i], score=float(probability[i])) for i in order]}
