"""Corpora of N times the releases: the real releases plus rewritten copies that are other releases.

A copy `k` of release `i` is named `{k * n + i}.txt` (n = number of real releases), so the real files keep
their names and the dev set's gold files stay the only right answers. In a copy
- every proper name is replaced by an invented one (a word is a proper name when it is capitalised, never
  occurs in lower case anywhere in the corpus, and occurs inside a sentence: EUROGATE, Hamburg, Verimi, GHz), the same name by the same
  invention within a copy, a different one in each copy; "Telekom", "Deutsche", "T" (T-Systems, T-Mobile),
  months and weekdays stay, so a copy is still a Deutsche Telekom release;
- every rare word (lower case, four letters or more, in at most RARE_IN_RELEASES of the real releases:
  "pastors", "bells", "tranche") is replaced the same way: a question that names no party, figure or date
  ("Which start-up lets pastors ring their church's bells from home?") still has one right release, where
  copies that kept those words would be as right as their original;
- every year from 1990 to 2039 is shifted by the copy's offset (1 to 12 years back, then forward), the day
  next to a month name moves within 1-28, and every other number has its digits permuted (0 stays 0, so
  "0.5" stays a decimal and no number gains a leading zero);
- the paragraphs after the first are rotated by k, so copies are chunked differently from the original.

So a copy keeps the topic and the wording of its original (the hard case for retrieval: sixteen releases on
EUROGATE-like port networks) but names other parties, figures and dates and uses other rare words: a
question naming EUROGATE, 2.9 million, 2023 or pastors still has one right release.

    python -m scripts.benchmarks.growth.corpus SOURCE_DIR OUT_DIR --factor 4
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
from collections.abc import Iterable
from pathlib import Path

KEEP = {"Telekom", "Deutsche", "T", "I"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
KEEP |= set(MONTHS) | set(WEEKDAYS)
RARE_IN_RELEASES = 2  # a word in at most this many real releases is replaced in copies (4.4 % of the words)

_WORD = re.compile(r"[^\W\d_][^\W_]*")
# a number standing alone: 3.7, 2,900, 2023 (not the 5 of "5G", not a chapter "4.0" inside a word)
_NUMBER = re.compile(r"(?<![\w.,\0])\d+(?:[.,]\d+)*(?![\w])")  # \0 marks a day already moved
_MONTH_NAMES = "|".join(MONTHS)
_DAY_AFTER_MONTH = re.compile(rf"\b(?P<month>{_MONTH_NAMES})\s+(?P<day>\d{{1,2}})\b")
_DAY_BEFORE_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}})\s+(?P<month>{_MONTH_NAMES})\b")
_SYLLABLES = ("ba", "ve", "lo", "ri", "ka", "mo", "sa", "ne", "tu", "di", "ra", "fe", "zo", "li", "ga", "no",
              "pe", "xu", "ha", "mi", "do", "ke", "vu", "ta", "be", "so", "ju", "wa", "ni", "qu")


_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)[\"'“‘(]*$")


def lowercase_vocabulary(texts: Iterable[str]) -> set[str]:
    """The common words: every word that occurs in lower case somewhere, and every capitalised word that
    occurs only at the start of a sentence ("Furthermore", "Unlike")."""
    lower, mid_sentence, starting = set(), set(), set()
    for text in texts:
        for match in _WORD.finditer(text):
            word = match.group(0)
            if word.islower():
                lower.add(word)
            elif _SENTENCE_START.search(text, max(0, match.start() - 3), match.start()):
                starting.add(word)
            else:
                mid_sentence.add(word)
    return lower | {w.lower() for w in starting - mid_sentence}


def rare_words(texts: Iterable[str], max_releases: int = RARE_IN_RELEASES) -> set[str]:
    """Lower-case words of four letters or more that occur in at most `max_releases` of the texts."""
    releases: dict[str, int] = {}
    for text in texts:
        for word in {w for w in _WORD.findall(text) if w.islower() and len(w) >= 4}:
            releases[word] = releases.get(word, 0) + 1
    return {word for word, count in releases.items() if count <= max_releases}


def is_proper_name(word: str, vocabulary: set[str]) -> bool:
    return word[0].isupper() and word not in KEEP and word.lower() not in vocabulary and len(word) > 1


def invented_name(word: str, copy: int, extra: int = 0) -> str:
    """A pronounceable invented word for `word` in copy `copy`, about as long, with its capitalisation."""
    digest = hashlib.sha256(f"{copy}:{word}".encode()).digest()
    syllables = max(2, round(len(word) / 2.5)) + extra
    name = "".join(_SYLLABLES[b % len(_SYLLABLES)] for b in digest[:syllables])
    if word.isupper():
        return name.upper()
    if word.islower():
        return name
    return name[0].upper() + name[1:]


class Rewriter:
    """Rewrites releases into copy `copy` (1, 2, ...): other names, numbers, dates, rare words; paragraphs rotated."""

    def __init__(self, copy: int, vocabulary: set[str], rare: set[str] = frozenset()) -> None:
        if copy < 1:
            raise ValueError("copy numbers start at 1 (0 is the real release)")
        self.copy = copy
        self.vocabulary = vocabulary
        self.rare = rare
        rng = random.Random(copy)
        # 1..12 years back for the first twelve copies, then forward; never 0
        self.year_offset = -copy if copy <= 12 else copy - 12
        digits = list("123456789")
        while True:  # a permutation that changes every digit but 0
            rng.shuffle(digits)
            if all(d != str(i + 1) for i, d in enumerate(digits)):
                break
        self.digit_map = str.maketrans("123456789", "".join(digits))
        self.names: dict[str, str] = {}

    def _name(self, match: re.Match) -> str:
        word = match.group(0)
        if word.lower() in self.rare:  # "Bells" at a sentence's start and "bells" become the same word
            invented = self._invent(word.lower())
            return invented[0].upper() + invented[1:] if word[0].isupper() else invented
        return self._invent(word) if is_proper_name(word, self.vocabulary) else word

    def _invent(self, word: str) -> str:
        if word not in self.names:
            taken = set(self.names.values())
            extra = 0
            while (name := invented_name(word, self.copy, extra)) in taken or name.lower() in self.vocabulary:
                extra += 1  # one invented word per original word, and never a real word
            self.names[word] = name
        return self.names[word]

    def _number(self, match: re.Match) -> str:
        text = match.group(0)
        if len(text) == 4 and text.isdigit() and 1990 <= int(text) <= 2039:
            return str(int(text) + self.year_offset)
        return text.translate(self.digit_map)

    def _day(self, day: str) -> str:
        moved = (int(day) - 1 + self.copy * 3) % 28 + 1
        return "\0" + str(moved)  # marked, so the number pass leaves it

    def rewrite(self, text: str) -> str:
        paragraphs = text.split("\n\n")
        if len(paragraphs) > 2:
            rest = paragraphs[1:]
            shift = self.copy % len(rest)
            paragraphs = [paragraphs[0], *rest[shift:], *rest[:shift]]
        text = "\n\n".join(paragraphs)
        text = _DAY_AFTER_MONTH.sub(lambda m: f"{m['month']} {self._day(m['day'])}", text)
        text = _DAY_BEFORE_MONTH.sub(lambda m: f"{self._day(m['day'])} {m['month']}", text)
        text = _NUMBER.sub(self._number, text)
        text = text.replace("\0", "")
        return _WORD.sub(self._name, text)


def _natural(path: Path) -> tuple[int, str]:
    return (int(path.stem), path.name) if path.stem.isdigit() else (10**9, path.name)


def build_corpus(source: Path, out: Path, factor: int) -> list[Path]:
    """`out` holds the releases of `source` and `factor - 1` rewritten copies of each; returns the files.

    Idempotent: files already there with the right text are not written again (a rerun after a kill resumes).
    """
    originals = sorted(source.glob("*.txt"), key=_natural)
    if not originals:
        raise SystemExit(f"{source} holds no .txt releases")
    texts = {p.name: p.read_text(encoding="utf-8") for p in originals}
    vocabulary = lowercase_vocabulary(texts.values())
    rare = rare_words(texts.values())
    out.mkdir(parents=True, exist_ok=True)
    n = len(originals)
    numbered = all(p.stem.isdigit() for p in originals)
    written = []
    for copy in range(factor):
        rewriter = Rewriter(copy, vocabulary, rare) if copy else None
        for index, path in enumerate(originals):
            text = texts[path.name] if rewriter is None else rewriter.rewrite(texts[path.name])
            name = path.name if copy == 0 else (f"{copy * n + index}.txt" if numbered else f"copy{copy}-{path.name}")
            target = out / name
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
            written.append(target)
    expected = {p.name for p in written}
    for stray in out.glob("*.txt"):  # a folder built for another factor or source
        if stray.name not in expected:
            stray.unlink()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--factor", type=int, default=4)
    args = parser.parse_args()
    files = build_corpus(args.source, args.out, args.factor)
    print(f"{len(files)} releases in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
