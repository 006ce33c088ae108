import numpy as np
from haystack import Document, component

from kit.evidence import EvidenceModel, Question, compose, resolve_model_path, units_of

NOT_FOUND_PREFIX = "The press releases do not contain information"
NOT_FOUND = f"{NOT_FOUND_PREFIX} that answers this question."
NOT_FOUND_ABOUT = f"{NOT_FOUND_PREFIX} about {{}}."


@component
class ExtractiveAnswerer:
    """
    Answers without an LLM: the answer units (sentences) of the top-ranked chunks that most likely hold the answer,
    each cited `[n]`; or an honest refusal that names the closest releases.

    - **Choice.** Every answer unit of the top `max_chunks` chunks gets the evidence model's unit score
      (`kit/evidence.py`, fitted by `pressqa-train` on which sentences of the development questions' sources hold a
      key fact): coverage of the question, the kind of answer it holds against the kind asked, its place. The most probable unit comes first; others follow while they are at
      least `relative` times as probable, or `completing` times when they give a kind of answer the question asks for
      and the chosen units do not yet give ("What does it cost, and from when …?"). At most `max_units`, in reading
      order per source.
    - **Refusal.** When `answerable` is False (from `AnswerabilityCheck`), the answer says that the press releases do
      not contain the answer — naming the question's names no source mentions, when there are such — and lists the
      first `related` chunks' releases as related reading, cited. Without `answerable` the answerer answers.

    No extractive QA model with commercial-use weights can be installed here (see ../shared/NOTES.md), so Haystack's
    `ExtractiveReader` does not serve.

    ### Usage example

    ```python
    from haystack import Document
    from components.extractive_answerer import ExtractiveAnswerer

    tablet = Document(content="The new T Tablet is a robust device for everyday use. Without a mobile plan, the T "
                              "Tablet costs a one-time fee of 219 euros. It will be available from August 24.",
                      meta={"file_path": "7.txt", "title": "T Tablet"})
    answerer = ExtractiveAnswerer(model_path="models/evidence_model.json")
    answerer.warm_up()
    result = answerer.run(query="From when is the T Tablet available?", documents=[tablet])
    print(result["answer"])  # the sentence with "August 24", cited [1]
    ```
    """

    def __init__(
        self,
        model_path: str = "models/evidence_model.json",
        max_chunks: int = 3,
        max_units: int = 3,
        relative: float = 0.4,
        completing: float = 0.1,
        related: int = 3,
    ) -> None:
        """
        Creates an ExtractiveAnswerer.

        :param model_path: The fitted evidence model (JSON, written by `pressqa-train`); a relative path is taken from
            the repository's root.
        :param max_chunks: How many of the top chunks to take units from.
        :param max_units: Most units in an answer.
        :param relative: A further unit must be at least this share as probable as the best one.
        :param completing: A further unit that gives a kind of answer not yet given must be at least this share as
            probable.
        :param related: How many releases a refusal names as related.
        :raises ValueError: If `max_chunks` or `max_units` is below 1, or a share is outside [0, 1].
        """
        if max_chunks < 1 or max_units < 1:
            raise ValueError("max_chunks and max_units must be at least 1")
        if not (0 <= relative <= 1 and 0 <= completing <= 1):
            raise ValueError("relative and completing must be between 0 and 1")
        self.model_path = model_path
        self.max_chunks = max_chunks
        self.max_units = max_units
        self.relative = relative
        self.completing = completing
        self.related = related
        self.model: EvidenceModel | None = None

    def warm_up(self) -> None:
        """Load the fitted model."""
        if self.model is None:
            self.model = EvidenceModel.load(resolve_model_path(self.model_path))

    def refusal(self, documents: list[Document], missing_names: list[str] | None) -> str:
        """That the releases hold no answer (about the names no source mentions), and the related releases, cited."""
        text = NOT_FOUND_ABOUT.format(", ".join(missing_names)) if missing_names else NOT_FOUND
        related, seen = [], set()
        for number, doc in enumerate(documents, start=1):
            release = doc.meta.get("file_path")
            if release in seen or len(related) >= self.related:
                continue
            seen.add(release)
            title = str(doc.meta.get("title") or release or "").rstrip(" .…")
            related.append(f"{title} [{number}]")
        return f"{text} Related: {'; '.join(related)}." if related else text

    @component.output_types(answer=str, documents=list[Document], found=bool)
    def run(
        self,
        query: str,
        documents: list[Document],
        answerable: bool | None = None,
        missing_names: list[str] | None = None,
    ) -> dict:
        """
        Extract an answer to `query` from `documents`.

        :param query: The question.
        :param documents: Ranked chunks; citations number them from 1.
        :param answerable: `AnswerabilityCheck`'s verdict; False refuses. None: answer.
        :param missing_names: The question's names no chunk mentions, for the refusal's wording.
        :returns: A dictionary with the following keys:
            - `answer`: the answer with `[n]` citations, or the refusal;
            - `documents`: as given, so the citations stay valid;
            - `found`: whether an answer was extracted.
        """
        if not documents:
            return {"answer": NOT_FOUND, "documents": documents, "found": False}
        if answerable is False:
            return {"answer": self.refusal(documents, missing_names), "documents": documents, "found": False}
        self.warm_up()
        question = Question.of(query)
        top = documents[: self.max_chunks]
        units = units_of(question, top)
        if not units.rows:
            return {"answer": self.refusal(documents, missing_names), "documents": documents, "found": False}
        probability = self.model.unit.probability(units.features)
        chosen = compose(question, units, np.atleast_1d(probability), set(range(len(top))), max_units=self.max_units,
                         relative=self.relative, completing=self.completing)
        answer = " ".join(f"{units.rows[i][2]} [{units.rows[i][0] + 1}]" for i in chosen)
        return {"answer": answer, "documents": documents, "found": True}
