"""Message search on SQL: the words `chatcore.search.index_text` gives, written into each database's own full-text
index as they are, and queries built from the same folded words, so both databases find what `matches` says.

No database text parser runs: PostgreSQL's would drop non-ASCII letters under a C locale and stem words; SQLite's
FTS5 `ascii` tokenizer only splits at ASCII non-alphanumerics, so our space-separated words are exactly its tokens.
"""

from __future__ import annotations

from chatcore.model import MessageType
from chatcore.search import Term, index_text

# PostgreSQL: positions above this one are stored as this one (so a phrase that far into a message cannot be told
# apart); a lexeme of more bytes than this cannot be stored at all ("word is too long") and is left out.
MAX_POSITION = 16383
MAX_LEXEME_BYTES = 2046
# SQLite: the FTS5 table holding the words (external content: the `search_words` column of chat_messages).
FTS_SUFFIX = "_fts"


def words_of(message_type: MessageType, content: str | None, file_name: str | None) -> str | None:
    """The `search_words` of a message on SQLite: the folded words, one space between them (None: not found)."""
    return index_text(message_type, content, file_name)


def tsvector_of(words: str | None) -> str | None:
    """The `search_words` of a message on PostgreSQL: a tsvector literal with each word's positions, from the
    words `index_text` gives (`'po':1 '1234':2`); CAST(... AS tsvector) reads it without any text parser.

    It runs for every message sent: a word is letters and digits (no quote or backslash to escape), and a message
    whose words are all different and short (most) is written in one pass."""
    if not words:
        return None
    found = words.split(" ")
    if len(found) <= MAX_POSITION and len(set(found)) == len(found) and len(words) * 4 <= MAX_LEXEME_BYTES:
        return " ".join([f"'{word}':{position}" for position, word in enumerate(found, start=1)])
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(found, start=1):
        if len(word.encode()) > MAX_LEXEME_BYTES:
            continue  # keeps its position, so the words around it are not taken for neighbours
        positions.setdefault(word, []).append(min(position, MAX_POSITION))
    if not positions:
        return None
    return " ".join(
        f"{_quoted(word)}:{','.join(str(p) for p in dict.fromkeys(found))}" for word, found in positions.items()
    )


def tsquery_of(terms: tuple[Term, ...]) -> str | None:
    """A tsquery literal for `terms` (all must match: `&`; a phrase's words follow one another: `<->`; the
    prefix word `:*`), or None when a word cannot be in any tsvector (too long): then nothing matches."""
    parts = []
    for term in terms:
        if any(len(word.encode()) > MAX_LEXEME_BYTES for word in term.words):
            return None
        quoted = [_quoted(word) for word in term.words]
        if term.prefix:
            quoted[-1] += ":*"
        parts.append(quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")")
    return " & ".join(parts)


def index_terms(terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """What the full-text index is asked for `terms` (its rows then checked for all of `terms`): the same, but for
    a prefix beside other terms. Both indexes gather every entry of every word a prefix matches before anything
    else (FTS5 merges their position lists, GIN fills a bitmap), a cost of the prefix's most common word, so a
    prefix word beside other terms is left to the row check and a phrase ending in a prefix loses that word."""
    if len(terms) < 2 and not (terms and len(terms[0].words) > 1):
        return terms
    asked = []
    for term in terms:
        if not term.prefix:
            asked.append(term)
        elif len(term.words) > 1:
            asked.append(Term(words=term.words[:-1]))
    return tuple(asked) or terms


def fts5_match_of(terms: tuple[Term, ...]) -> str:
    """An FTS5 MATCH expression for `terms`: each a quoted phrase (AND between them), `*` after a prefix term
    (FTS5 makes the last token of the string before it a prefix)."""
    return " ".join(
        '"' + " ".join(term.words).replace('"', '""') + '"' + (" *" if term.prefix else "") for term in terms
    )


def _quoted(word: str) -> str:
    """A tsvector/tsquery lexeme: in single quotes, a quote doubled and a backslash escaped (words are letters
    and digits, but the syntax is kept whatever they hold)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
