import re

from haystack import Document, component

from kit.answer_types import asked_types, asks_for_list, gives_type
from kit.text_terms import content_terms, sentences

NOT_FOUND = "The press releases do not contain information that answers this question."
NOT_FOUND_ABOUT = "The press releases do not contain information about {}."

# A token of the question that names something: capitalised after the first word, an acronym, a figure.
_TOKEN = re.compile(r"[\w][\w.'’&-]*[\w]|[\w]")
# Names that every release shares: their presence says nothing about whether the sources answer.
_GENERIC_NAMES = frozenset(
    """deutsche telekom telekom's t-systems t-mobile germany german europe european dt ag group magenta
    i ceo cto board""".split()
)
_TABLE_CELL = " | "  # TableFlattener joins a table row's cells with " | "


def _name_tokens(query: str) -> list[str]:
    """The question's tokens that name something (not its first word unless an acronym or a figure)."""
    names = []
    for index, token in enumerate(_TOKEN.findall(query)):
        token = token.strip(".,'’")
        has_digit = any(c.isdigit() for c in token)
        is_acronym = len(token) >= 2 and sum(c.isupper() for c in token) >= 2
        capitalised = token[:1].isupper() and index > 0
        if not (has_digit or is_acronym or capitalised):
            continue
        if re.fullmatch(r"\d{1,2}", token):  # "5 quarters", a day of month: not distinctive
            continue
        if re.search(r"-(style|like|type|based|powered|inspired)$", token, re.I):  # "ChatGPT-style": like X, not X
            continue
        names.append(token)
    return names


def _plain(token: str) -> str:
    return re.sub(r"['’]s$", "", token.lower())


def missing_names(query: str, documents: list[Document]) -> list[str]:
    """The question's names, products and figures that none of `documents` mentions (case-insensitive)."""
    text = " ".join((d.content or "") + " " + str(d.meta.get("title") or "") for d in documents).lower()
    missing = []
    for token in _name_tokens(query):
        plain = _plain(token)
        if plain in _GENERIC_NAMES or token.lower() in _GENERIC_NAMES:
            continue
        # "5G" in "5G-based", "Starlink" in "Starlink's": a word-boundary match on the bare name
        if not re.search(rf"(?<![\w]){re.escape(plain)}", text):
            missing.append(re.sub(r"['’]s$", "", token))
    return missing


def _weight(term: str, query: str) -> float:
    """Names and figures decide whether a passage is about the asked thing: they weigh double."""
    if any(ch.isdigit() for ch in term) or re.search(rf"\b[A-Z][\w-]*{re.escape(term[1:])}", query):
        return 2.0
    return 1.0


def _is_table(sentence: str) -> bool:
    return sentence.count(_TABLE_CELL) >= 2


_OPEN_END = re.compile(r"(,|;|\b(and|or|for|of|to|with|the|a|an|in|on|at|by|from|as|that|which|plus))$", re.I)


def answer_units(text: str) -> list[str]:
    """The chunk's sentences as answer candidates: a line that runs on into the next ("costs 211.50 euros
    per month and" / "1 GB data volume …") is joined with it; a fragment cut by the chunk's start (lower-case
    first word) is left out, one cut by its end ends in " …"."""
    units: list[str] = []
    parts = sentences(text)
    index = 0
    while index < len(parts):
        unit = parts[index]
        while _OPEN_END.search(unit.rstrip()) and index + 1 < len(parts) and len(unit.split()) < 80:
            index += 1
            unit = f"{unit} {parts[index]}"
        index += 1
        if unit[:1].islower():
            continue
        if _OPEN_END.search(unit.rstrip()):  # cut by the chunk's end: keep what it says, mark the cut
            unit = _OPEN_END.sub("", unit.rstrip()).rstrip(" ,;") + " …"
        units.append(unit)
    return units


@component
class ExtractiveAnswerer:
    """
    Answers without an LLM: the shortest set of sentences of the top-ranked chunks that answers the question.

    - **Refusal.** When a name, product, acronym or figure of the question (a distinctive term:
      capitalised after the first word, an acronym, a token with a digit; names every release shares,
      such as "Telekom", excepted) occurs in none of the retrieved chunks, the sources are about
      something else: the answer says "The press releases do not contain information about <those
      terms>." So it does when the top chunks cover less than `min_coverage` of the question's words
      (weighted, names and figures double), or when no sentence holds the kind of answer asked for.
    - **Answer type.** A sentence scores by the weighted share of the question's words it contains,
      plus `answer_type_bonus` when it holds what is asked (a date for "when", an amount for "how
      much"/"what does … cost", a name for "who"/"which company"), plus `rank_bonus` / rank.
    - **Shortest span.** The best sentence first; another one only while it adds at least
      `min_gain` of the question's words not yet covered (a two-part question), or, for a "which …s"
      list question, another item of the asked type. Table rows (cells joined by " | ") and headings
      never form an answer. At most `max_sentences`, in reading order per source, each cited `[n]`
      (1-based position in `documents`).

    No extractive QA model with commercial-use weights can be installed here (see ../shared/NOTES.md),
    so Haystack's ExtractiveReader does not serve.

    ### Usage example

    ```python
    from haystack import Document

    from components.extractive_answerer import ExtractiveAnswerer

    tablet = Document(content="The new T Tablet is a robust device for everyday use. Without a mobile plan, the T "
                               "Tablet costs a one-time fee of 219 euros. It will be available from August 24.")
    result = ExtractiveAnswerer().run(query="From when is the T Tablet available?", documents=[tablet])
    # result: {"answer": "It will be available from August 24. [1]", "documents": [tablet], "found": True}
    ```

    Inputs: `query`, `documents` (ranked). Outputs: `answer` (text with citations), `documents`
    (unchanged, so citations stay valid), `found` (whether an answer was extracted).
    """

    def __init__(
        self,
        max_sentences: int = 3,
        max_chunks: int = 3,
        min_coverage: float = 0.6,
        min_sentence_score: float = 0.25,
        answer_type_bonus: float = 0.3,
        rank_bonus: float = 0.15,
        covered_weight: float = 0.3,
        min_gain: float = 0.2,
        refuse_missing_names: bool = True,
    ) -> None:
        """
        :param max_sentences: Most sentences in an answer.
        :param max_chunks: How many of the top chunks to take sentences from.
        :param min_coverage: Least weighted share of the question's words that the top chunks must contain.
        :param min_sentence_score: Least score for a sentence to be part of the answer.
        :param answer_type_bonus: Bonus of a sentence that holds the kind of answer asked for.
        :param rank_bonus: Bonus of the first chunk's sentences; it falls off as 1/rank for lower chunks.
        :param covered_weight: Factor on a question word's weight once a chosen sentence contains it.
        :param min_gain: Least weighted share of not yet covered question words a further sentence must add.
        :param refuse_missing_names: Refuse when a distinctive term of the question is in no retrieved chunk.
        """
        if max_sentences < 1 or max_chunks < 1:
            raise ValueError("max_sentences and max_chunks must be at least 1")
        self.max_sentences = max_sentences
        self.max_chunks = max_chunks
        self.min_coverage = min_coverage
        self.min_sentence_score = min_sentence_score
        self.answer_type_bonus = answer_type_bonus
        self.rank_bonus = rank_bonus
        self.covered_weight = covered_weight
        self.min_gain = min_gain
        self.refuse_missing_names = refuse_missing_names

    def refusal(self, query: str, documents: list[Document], weights: dict[str, float]) -> str | None:
        """The refusal to give, or None when the sources may answer."""
        total = sum(weights.values())
        top = documents[: self.max_chunks]
        if not total or not top:
            return NOT_FOUND
        if self.refuse_missing_names:
            missing = missing_names(query, documents)
            if missing:
                return NOT_FOUND_ABOUT.format(", ".join(dict.fromkeys(missing)))
        covered = set().union(*(set(content_terms(d.content or "")) for d in top)) & weights.keys()
        if sum(weights[t] for t in covered) / total < self.min_coverage:
            return NOT_FOUND
        return None

    @component.output_types(answer=str, documents=list[Document], found=bool)
    def run(self, query: str, documents: list[Document]) -> dict:
        """
        Extract an answer to `query` from `documents`.

        :param query: The question.
        :param documents: Ranked chunks; citations number them from 1.
        :returns: `answer`, `documents` (as given) and `found`.
        """
        weights: dict[str, float] = {}
        for term in content_terms(query):
            weights[term] = max(weights.get(term, 0.0), _weight(term, query))
        refusal = self.refusal(query, documents, weights)
        if refusal:
            return {"answer": refusal, "documents": documents, "found": False}
        total = sum(weights.values())
        kinds = asked_types(query)  # one per part of the question
        wants_list = asks_for_list(query)

        candidates = []  # (rank, position, sentence, its question terms, holds the asked kind of answer)
        for rank, doc in enumerate(documents[: self.max_chunks]):
            for position, sentence in enumerate(answer_units(doc.content or "")):
                if sentence.endswith(":") or _is_table(sentence):  # a heading, a lead-in, a table row
                    continue
                terms = set(content_terms(sentence)) & weights.keys()
                given = frozenset(kind for kind in kinds if gives_type(query, sentence, kind))
                candidates.append((rank, position, sentence, terms, bool(given) or not kinds, given))

        remaining = dict(weights)
        answered: set[str] = set()  # the kinds of answer the chosen sentences give
        best: list[tuple[int, int, str, bool]] = []
        while candidates and len(best) < self.max_sentences:
            def gain(c):
                return sum(remaining[t] for t in c[3]) / total

            def score(c):
                return gain(c) + self.answer_type_bonus * c[4] + self.rank_bonus / (c[0] + 1)

            # the first sentence must hold the asked kind of answer; later ones complete it
            pool = candidates if best else [c for c in candidates if c[4]]
            if not pool:
                break
            chosen = max(pool, key=score)
            if score(chosen) < self.min_sentence_score:
                break
            if best:
                # a further sentence must hold an asked kind of answer too (not merely restate the
                # question's subject) and answer more of the question, or add an item to a list answer
                adds_item = wants_list and chosen[4] and gain(chosen) > 0
                answers_another_part = bool(chosen[5] - answered) and gain(chosen) > 0
                if not chosen[4] or (gain(chosen) < self.min_gain and not adds_item and not answers_another_part):
                    candidates.remove(chosen)
                    continue
            candidates.remove(chosen)
            best.append((chosen[0], chosen[1], chosen[2], chosen[4]))
            answered |= chosen[5]
            for term in chosen[3]:
                remaining[term] *= self.covered_weight
        if not any(typed for *_, typed in best):
            return {"answer": NOT_FOUND, "documents": documents, "found": False}

        best.sort(key=lambda s: (s[0], s[1]))
        answer = " ".join(f"{sentence} [{rank + 1}]" for rank, _, sentence, _ in best)
        return {"answer": answer, "documents": documents, "found": True}
