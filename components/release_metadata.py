import re
from datetime import date

from haystack import Document, component

_MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]
_MONTH = r"(?P<month>January|February|March|April|May|June|July|August|September|October|November|December)"
_YEAR = r"(?P<year>20\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
# "May 16, 2023" / "16 May 2023" / "16th of May 2023" / "May 2023"
_DATE_PATTERNS = [
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b"),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b"),
]
_PLAIN_YEAR = re.compile(r"\b(20\d\d)\b")
# Years that name a goal ("by 2030", "until 2025") say nothing about when the release was written.
_TARGET_YEAR = re.compile(r"\b(?:by|until|till|through|to|from|before|for)\s+(?:the\s+end\s+of\s+)?(20\d\d)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")


def _dates_in(text: str, latest_year: int) -> list[str]:
    """ISO dates (YYYY-MM-DD, or YYYY-MM where only the month is named) the text mentions, newest first."""
    found: set[str] = set()
    covered: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(start <= match.start() < end for start, end in covered):
                continue
            year, month = int(match["year"]), _MONTHS.index(match["month"].lower()) + 1
            if year > latest_year:
                continue
            day = match.groupdict().get("day")
            if day:
                try:
                    found.add(date(year, month, int(day)).isoformat())
                except ValueError:
                    continue
            else:
                found.add(f"{year:04d}-{month:02d}")
            covered.append(match.span())
    return sorted(found, reverse=True)


@component
class ReleaseMetadataExtractor:
    """
    Derives a release's title and the dates it mentions, and stores them in each document's meta.

    The releases carry no title, URL or publication date fields: a few start with a headline, the rest
    run straight into the lead. This component sets:
    - `title`: the first paragraph when it is headline-short (no closing full stop), otherwise the
      release's first sentence, shortened to `max_title_words` and `max_title_chars` (a word counts
      once however long it is: a 999,000-character line without spaces was a title of that length);
    - `dates`: ISO dates the text mentions (`YYYY-MM-DD`, or `YYYY-MM` where only a month is named),
      newest first;
    - `year`: the most recent year the release speaks of as a date (from `dates`, else from plain years
      that do not name a goal such as "by 2030"); left out when there is none. Filters use it.

    Input: `documents` (cleaned releases). Output: the same documents with the meta added.

    ### Usage example

    ```python
    from haystack import Document

    from components.release_metadata import ReleaseMetadataExtractor

    release = Document(content="New cloud region in Barcelona\\n\\nOn May 16, 2023 T-Systems opened it.")
    result = ReleaseMetadataExtractor(latest_year=2025).run(documents=[release])
    # result["documents"][0].meta: {"title": "New cloud region in Barcelona", "dates": ["2023-05-16"], "year": 2023}
    ```
    """

    def __init__(self, max_title_words: int = 14, latest_year: int | None = None, max_title_chars: int = 150) -> None:
        """
        :param max_title_words: Longest title, in words; longer first sentences are cut with "…".
        :param latest_year: Ignore years after this one (future targets); defaults to the current year.
        :param max_title_chars: Longest title, in characters (with the "…" of a cut).
        """
        self.max_title_words = max_title_words
        self.latest_year = latest_year
        self.max_title_chars = max_title_chars

    def _title(self, text: str) -> str:
        title = self._title_by_words(text)
        if len(title) <= self.max_title_chars:
            return title
        cut = title[: self.max_title_chars - 2]
        space = cut.rfind(" ")
        return (cut[:space] if space > self.max_title_chars // 2 else cut).rstrip(" ,;:…") + " …"

    def _title_by_words(self, text: str) -> str:
        first_paragraph = text.strip().split("\n", 1)[0].strip()
        words = first_paragraph.split()
        if 0 < len(words) <= self.max_title_words and not first_paragraph.endswith((".", ":")):
            return first_paragraph
        first_sentence = _SENTENCE_END.split(first_paragraph, 1)[0]
        words = first_sentence.split()
        if len(words) <= self.max_title_words:
            return first_sentence.rstrip(".")
        return " ".join(words[: self.max_title_words]).rstrip(",;:") + " …"

    def _year(self, text: str, dates: list[str], latest_year: int) -> int | None:
        if dates:
            return max(int(d[:4]) for d in dates)
        targets = {m.start(1) for m in _TARGET_YEAR.finditer(text)}
        years = [int(m.group(1)) for m in _PLAIN_YEAR.finditer(text) if m.start(1) not in targets]
        years = [y for y in years if y <= latest_year]
        return max(years) if years else None

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """
        Add `title`, `dates` and `year` to each document's meta.

        :param documents: Cleaned releases, one document each.
        :returns: `documents`: new Documents with the same content and the enriched meta.
        """
        latest_year = self.latest_year or date.today().year
        enriched = []
        for doc in documents:
            text = doc.content or ""
            dates = _dates_in(text, latest_year)
            meta = {**doc.meta, "title": self._title(text), "dates": dates}
            year = self._year(text, dates, latest_year)
            if year is not None:
                meta["year"] = year
            enriched.append(Document(content=text, meta=meta))
        return {"documents": enriched}
