from haystack import Document, component

from kit.evidence import EvidenceModel, Question, answerability_features, resolve_model_path, units_of


@component
class AnswerabilityCheck:
    """
    Says whether the retrieved chunks answer the question at all, with a calibrated score.

    The hard case is the near miss: the releases cover the topic, product or person, but not the asked detail
    (the price of an offer whose release gives none; the prize money of one award when another release gives
    another award's). The check looks for the best answer unit (sentence) among the top `max_chunks` chunks that
    holds the *kind* of answer asked for (`kit/asked_answers.py`: a sum of money for "how much does … cost", a
    date for "when" …) and asks whether it is about the asked thing: its unit score (the evidence model's), how many
    of the question's distinctive names it and its chunk mention, and its coverage of the question. A logistic regression fitted by `pressqa-train` on the development questions (k-fold figures in the
    README) turns these into the probability that the question is answerable; below the model's `refuse_below` (set
    in training so that about 4 % of answerable questions fall under it) the answer is `answerable: False`. So it is,
    by rule, when a distinctive name of the question (a product, company, acronym or figure; not "Telekom") is in
    none of the chunks: "Starlink" asked, no chunk about it.

    Why a component of our own: Haystack has no answerability estimate for extractive answers (its
    `ExtractiveReader` gives a no-answer score from a reader model, and none with weights installs here).

    ### Usage example

    ```python
    from haystack import Document
    from components.answerability_check import AnswerabilityCheck

    check = AnswerabilityCheck(model_path="models/evidence_model.json")
    check.warm_up()
    documents = [Document(content="Telekom and Nothing launch the Phone (1). It goes on sale on July 21.")]
    result = check.run(query="What is the battery capacity of the Nothing Phone (1)?", documents=documents)
    print(result["answerable"], round(result["answerability"], 2))  # False and a low probability
    ```
    """

    def __init__(self, model_path: str = "models/evidence_model.json", max_chunks: int = 3, name_chunks: int = 5) -> None:
        """
        Creates an AnswerabilityCheck.

        :param model_path: The fitted evidence model (JSON, written by `pressqa-train`); a relative path is taken from
            the repository's root.
        :param max_chunks: How many of the top chunks may hold the answer (as many as the answer is taken from).
        :param name_chunks: How many of the top chunks the question's names are looked for in (the sources a reply
            shows).
        :raises ValueError: If `max_chunks` or `name_chunks` is below 1.
        """
        if max_chunks < 1 or name_chunks < 1:
            raise ValueError("max_chunks and name_chunks must be at least 1")
        self.model_path = model_path
        self.max_chunks = max_chunks
        self.name_chunks = name_chunks
        self.model: EvidenceModel | None = None

    def warm_up(self) -> None:
        """Load the fitted model."""
        if self.model is None:
            self.model = EvidenceModel.load(resolve_model_path(self.model_path))

    @component.output_types(answerable=bool, answerability=float, missing_names=list[str])
    def run(self, query: str, documents: list[Document]) -> dict:
        """
        Estimate whether `documents` answer `query`.

        :param query: The question.
        :param documents: Ranked chunks, best first.
        :returns: A dictionary with the following keys:
            - `answerable`: whether the answer is likely among the top `max_chunks` chunks;
            - `answerability`: that probability, 0 to 1;
            - `missing_names`: the question's names, products and figures that none of the top `name_chunks` chunks
              mentions (as written).
        """
        self.warm_up()
        top = documents[: self.max_chunks]
        if not top:
            return {"answerable": False, "answerability": 0.0, "missing_names": []}
        question = Question.of(query)
        units = units_of(question, top)
        unit_scores = self.model.unit.decision(units.features)
        probability = float(self.model.answerability.probability(answerability_features(question, top, units, unit_scores))[0])
        missing = question.missing_names(documents[: self.name_chunks])
        # a name of the question in no chunk: the sources are about something else, whatever the model says
        answerable = not missing and probability >= self.model.refuse_below
        return {"answerable": answerable, "answerability": probability if not missing else min(probability, 0.05),
                "missing_names": missing}
