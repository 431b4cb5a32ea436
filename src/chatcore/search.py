"""Message search's query language and its meaning (contract section 13), decided here so that every store finds
the same messages: the in-memory fake by this module's `matches`, the SQL stores by their full-text indexes.

Text is compared folded: case-folded, accents removed (é = e, ü = u, İ = i), so "Muller" finds "Müller". It is
cut into words at anything that is not a letter or a digit in any script, so "PO-1234" is the two words "po"
and "1234" one after the other. A query is a list of terms that must all match: a word, or a phrase (words one
after the other, written in quotes, or a word with punctuation inside such as PO-1234). The last word, unless
quoted, matches as a prefix, so a search box can search as one types. There is no stemming: HR text mixes
languages, names and ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime

import attrs

from chatcore.errors import InvalidError
from chatcore.model import MessageId, MessageType, RoomId, UserId

_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script (str.isalnum); `_` and punctuation cut words
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_COMBINING = {cp: None for cp in range(0x300, 0x1F000) if unicodedata.combining(chr(cp))}  # every one there is

MAX_QUERY_LENGTH = 200  # characters of `q`
MAX_TERMS = 8  # terms of one query, each a word or a phrase
MAX_LIMIT = 50
DEFAULT_LIMIT = 20
SNIPPET_LENGTH = 160  # characters of a hit's snippet


def fold(text: str) -> str:
    """Case and accents ignored: what both sides of a comparison are turned into. Whole strings at C speed (it
    runs for every message sent); the same as folding each character alone."""
    if text.isascii():
        return text.lower()
    stripped = unicodedata.normalize("NFKD", text).translate(_COMBINING)
    return stripped.casefold().replace("\u0131", "i")


def _fold_char(ch: str) -> str:
    if ch == "\u0131":  # the dotless i has no decomposition: folded by hand, as the dotted capital is by NFKD
        return "i"
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """`text` folded and cut into words, as the stores index it."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return _WORD.findall(fold(text))


@attrs.frozen(kw_only=True)
class Term:
    """Words that must follow one another in a message (one word: anywhere); the last as a prefix if `prefix`."""

    words: tuple[str, ...]
    prefix: bool = False


@attrs.frozen(kw_only=True)
class SearchQuery:
    """A parsed `GET /search`: terms that must all match, filters, and where the last page ended."""

    terms: tuple[Term, ...]
    room_id: RoomId | None = None
    sender_id: UserId | None = None
    after: datetime | None = None  # sent at or after
    before: datetime | None = None  # sent before
    before_id: MessageId | None = None  # the cursor: only messages older than this one
    limit: int = DEFAULT_LIMIT


def parse_terms(q: str) -> tuple[Term, ...]:
    """`q` as terms, or InvalidError when it holds no word or is too long to be a search. Text in quotes is one
    phrase (an unclosed quote runs to the end); the last term is a prefix unless it was quoted."""
    if len(q) > MAX_QUERY_LENGTH:
        raise InvalidError(f"q may be at most {MAX_QUERY_LENGTH} characters", field="q")
    if "\x00" in q:
        raise InvalidError("q must not contain NUL characters", field="q")
    terms: list[Term] = []
    bare_last = False
    for index, part in enumerate(q.split('"')):
        quoted = index % 2 == 1
        for chunk in [part] if quoted else part.split():
            found = words(chunk)
            if found:
                terms.append(Term(words=tuple(found)))
                bare_last = not quoted
    if not terms:
        raise InvalidError("q must hold at least one word", field="q")
    if len(terms) > MAX_TERMS:
        raise InvalidError(f"q may hold at most {MAX_TERMS} words or phrases", field="q")
    if bare_last:
        terms[-1] = attrs.evolve(terms[-1], prefix=True)
    return tuple(terms)


def searchable(message_type: MessageType, content: str | None, file_name: str | None) -> str | None:
    """The text a message is found by: its text, and a file's name; nothing for system messages."""
    if message_type is MessageType.SYSTEM:
        return None
    parts = [part for part in (content, file_name) if part]
    return "\n".join(parts) if parts else None


def index_text(message_type: MessageType, content: str | None, file_name: str | None) -> str | None:
    """What a store indexes for a message: its searchable words, folded, one space between them (so each
    index cuts them exactly where this module does); None when there is nothing to find it by."""
    text = searchable(message_type, content, file_name)
    found = words(text) if text else []
    return " ".join(found) if found else None


def matches(terms: tuple[Term, ...], text: str | None) -> bool:
    """The meaning of a query, as the fake store applies it and the SQL stores reproduce it."""
    if not text:
        return False
    found = words(text)
    return all(any(True for _ in _term_starts(term, found)) for term in terms)


def _term_starts(term: Term, found: list[str]) -> Iterator[int]:
    """Where in the words `found` the term matches."""
    size = len(term.words)
    for start in range(len(found) - size + 1):
        window = found[start : start + size]
        if tuple(window[:-1]) == term.words[:-1] and _word_matches(term, window[-1]):
            yield start


def _word_matches(term: Term, word: str) -> bool:
    last = term.words[-1]
    return word.startswith(last) if term.prefix else word == last


@attrs.frozen(kw_only=True)
class Snippet:
    """A part of a message's text around its matches, and where in it each match is (start, end): text, for a
    client to mark up itself; never HTML."""

    text: str
    highlights: list[tuple[int, int]]


def snippet(terms: tuple[Term, ...], text: str, *, length: int = SNIPPET_LENGTH) -> Snippet:
    """The matched words of `text`, located in the original characters (folding may change lengths: ß is ss),
    and up to `length` characters around the first of them."""
    spans = _word_spans(text)
    folded = [word for word, _, _ in spans]
    hits = [
        (spans[start][1], spans[start + len(term.words) - 1][2])
        for term in terms
        for start in _term_starts(term, folded)
    ]
    hits.sort()
    begin = 0
    if hits and hits[0][0] > length // 3:
        begin = hits[0][0] - length // 3
        floor = max(0, begin - 20)
        while begin > floor and not text[begin - 1].isspace():  # start at a word, if one starts nearby
            begin -= 1
    end = min(len(text), begin + length)
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - begin
    shown = [(s + shift, e + shift) for s, e in hits if s >= begin and e <= end]
    return Snippet(text=prefix + text[begin:end] + suffix, highlights=shown)


def _word_spans(text: str) -> list[tuple[str, int, int]]:
    """Each word of `text` folded, with its start and end in `text` itself. ASCII text (most of it) folds to
    lower case, one character for one, so one regex finds the words in place."""
    if text.isascii():
        return [(m.group(), m.start(), m.end()) for m in _ASCII_WORD.finditer(text.lower())]
    return _word_spans_by_char(text)


def _word_spans_by_char(text: str) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    current: list[str] = []
    start = 0
    for index, ch in enumerate(text):
        folded = _fold_char(ch)
        if not folded:  # a combining mark: part of the letter before it
            continue
        if all(c.isalnum() for c in folded):
            if not current:
                start = index
            current.append(folded)
            continue
        if current:
            spans.append(("".join(current), start, index))
            current = []
    if current:
        spans.append(("".join(current), start, len(text)))
    return spans
