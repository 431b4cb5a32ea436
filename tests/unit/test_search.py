"""Message search (contract section 13): the query language, its meaning, snippets, and who finds what, on the
fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatcore import InvalidError, RoomId, UserId
from chatcore import search as search_module
from chatcore.model import MessageType
from chatcore.search import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    Term,
    index_text,
    matches,
    parse_terms,
    snippet,
    words,
)
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, Chat, pdf


def test_words_are_folded_and_cut_at_anything_but_letters_and_digits() -> None:
    text = "İstanbul KIRMIZI kırmızı Müller Straße résumé_final PO-1234 日本語のテキスト 😀 Ölçü"  # noqa: RUF001

    assert words(text) == [
        "istanbul",
        "kirmizi",
        "kirmizi",
        "muller",
        "strasse",
        "resume",
        "final",
        "po",
        "1234",
        "日本語のテキスト",
        "olcu",
    ]


def test_a_query_is_words_and_phrases_with_the_last_bare_word_a_prefix() -> None:
    assert parse_terms('contract "Anna sent" PO-12') == (
        Term(words=("contract",)),
        Term(words=("anna", "sent")),
        Term(words=("po", "12"), prefix=True),
    )
    assert parse_terms('payslip "march 2026"') == (Term(words=("payslip",)), Term(words=("march", "2026")))
    assert parse_terms('"unclosed phrase') == (Term(words=("unclosed", "phrase")),)


@pytest.mark.parametrize("q", ["", "   ", "!!! ---", '""', "x" * (MAX_QUERY_LENGTH + 1), "a\x00b"])
def test_a_query_without_words_or_too_long_is_refused(q: str) -> None:
    with pytest.raises(InvalidError) as error:
        parse_terms(q)
    assert error.value.field == "q"


def test_a_query_of_too_many_terms_is_refused() -> None:
    with pytest.raises(InvalidError):
        parse_terms(" ".join(f"w{n}" for n in range(MAX_TERMS + 1)))


@pytest.mark.parametrize(
    ("q", "text", "found"),
    [
        ("muller", "Herr Müller called", True),
        ("MÜLLER", "herr muller called", True),
        ("strasse", "Große Straße 5", True),
        ("istanbul", "Office in İstanbul", True),
        ("kırmızı", "KIRMIZI kalem", True),  # noqa: RUF001 (Turkish dotless i on purpose)
        ("resume", "Résumé attached", True),
        ("contr", "the contract is ready", True),  # the last word is a prefix
        ("contr ready", "the contract is ready", False),  # ... only the last
        ('"contract is"', "the contract is ready", True),
        ('"is contract"', "the contract is ready", False),
        ('"contr"', "the contract", False),  # quoted: a whole word
        ("PO-1234", "order PO-1234 approved", True),
        ("PO-1234", "PO 1234", True),
        ("PO-1234", "1234 PO", False),
        ("po-12", "order PO-1234", True),
        ("日本", "日本語のテキスト", True),
        ("anna contract", "Contract for Anna", True),
        ("anna bob", "Contract for Anna", False),
    ],
)
def test_what_a_query_matches(q: str, text: str, found: bool) -> None:
    assert matches(parse_terms(q), text) is found


def test_a_snippet_locates_matches_in_the_original_characters_and_is_plain_text() -> None:
    text = "x " * 200 + "Große Straße <b>Nr</b> 5 and Strasse 7"

    cut = snippet(parse_terms("strasse"), text)

    assert [cut.text[start:end] for start, end in cut.highlights] == ["Straße", "Strasse"]
    assert cut.text.startswith("…")
    assert "<b>Nr</b>" in cut.text  # as written: the client shows text
    assert len(cut.text) <= 162


def test_what_is_indexed_is_text_and_file_names_never_system_notes() -> None:
    assert index_text(MessageType.TEXT, "Hello, Müller!", None) == "hello muller"
    assert index_text(MessageType.FILE, None, "Payslip_März.pdf") == "payslip marz pdf"
    assert index_text(MessageType.SYSTEM, "Ann added Ben", None) is None
    assert index_text(MessageType.TEXT, "😀 !!", None) is None


# -- the use case -----------------------------------------------------------------------------------


async def group(chat: Chat, *others: UserId) -> RoomId:
    return (await chat.service.create_group(ALICE, "HR team", [BOB, CAROL, *others])).id


async def test_only_messages_of_ones_rooms_from_ones_joining_on_are_found(chat: Chat) -> None:
    direct = await chat.room(ALICE, BOB)
    await chat.say(ALICE, direct, "the contract for Anna")
    room = await group(chat)
    await chat.say(ALICE, room, "contract draft, before Dave")
    await chat.service.add_members(ALICE, room, [DAVE])
    later = await chat.say(BOB, room, "contract final, after Dave joined")
    await chat.say(CAROL, await chat.room(CAROL, DAVE), "nothing to see")

    for_dave = await chat.service.search_messages(DAVE, "contract")
    for_bob = await chat.service.search_messages(BOB, "contract")
    for_carol = await chat.service.search_messages(CAROL, "contract")

    assert [hit.message.id for hit in for_dave.results] == [later.id]
    assert len(for_bob.results) == 3
    assert len(for_carol.results) == 2  # the group's two, not Alice and Bob's direct room
    await chat.service.remove_member(ALICE, room, DAVE)
    assert (await chat.service.search_messages(DAVE, "contract")).results == []


async def test_results_are_newest_first_in_pages_with_a_cursor(chat: Chat, room: RoomId) -> None:
    sent = [await chat.say(ALICE, room, f"report number {n}") for n in range(5)]

    first = await chat.service.search_messages(BOB, "report", limit=2)
    second = await chat.service.search_messages(BOB, "report", limit=2, cursor=first.next_cursor)
    third = await chat.service.search_messages(BOB, "report", limit=2, cursor=second.next_cursor)

    assert [h.message.id for h in first.results + second.results + third.results] == [m.id for m in sent[::-1]]
    assert (first.has_more, third.has_more, third.next_cursor) == (True, False, None)


async def test_filters_by_room_sender_and_time(chat: Chat) -> None:
    direct = await chat.room(ALICE, BOB)
    old = await chat.say(ALICE, direct, "budget 2025")
    chat.clock.advance(86_400)
    middle = chat.clock.now()
    from_bob = await chat.say(BOB, direct, "budget 2026")
    other = await chat.room(ALICE, CAROL)
    await chat.say(ALICE, other, "budget for Carol")

    by_sender = await chat.service.search_messages(ALICE, "budget", sender_id=BOB)
    in_room = await chat.service.search_messages(ALICE, "budget", room_id=direct)
    before = await chat.service.search_messages(ALICE, "budget", before=middle)
    after = await chat.service.search_messages(ALICE, "budget", after=middle - timedelta(seconds=1))

    assert [h.message.id for h in by_sender.results] == [from_bob.id]
    assert len(in_room.results) == 2
    assert [h.message.id for h in before.results] == [old.id]
    assert len(after.results) == 2
    assert (await chat.service.search_messages(CAROL, "budget", room_id=direct)).results == []


async def test_an_edit_is_found_by_its_new_text_only_and_a_deletion_by_nothing(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "salary review on Monday")
    await chat.service.edit_message(ALICE, sent.id, "performance review on Tuesday")

    assert (await chat.service.search_messages(BOB, "salary")).results == []
    assert [h.snippet for h in (await chat.service.search_messages(BOB, "tuesday")).results] == [
        "performance review on Tuesday"
    ]
    await chat.service.delete_message(ALICE, sent.id)
    assert (await chat.service.search_messages(BOB, "review")).results == []


async def test_a_file_is_found_by_its_name(chat: Chat, room: RoomId) -> None:
    sent = await chat.send_file(ALICE, room, MessageType.FILE, "Payslip_März_2026.pdf", pdf())

    found = await chat.service.search_messages(BOB, "payslip marz")

    (hit,) = found.results
    assert hit.message.id == sent.id
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["Payslip", "März"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-1"}, "cursor"),
        ({"cursor": "9" * 30}, "cursor"),
    ],
)
async def test_bad_paging_is_a_clear_400(chat: Chat, params: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidError) as error:
        await chat.service.search_messages(ALICE, "x", **params)  # type: ignore[arg-type]
    assert error.value.field == field


async def test_after_must_come_before_before(chat: Chat) -> None:
    now = chat.clock.now()
    with pytest.raises(InvalidError) as error:
        await chat.service.search_messages(ALICE, "x", after=now, before=now)
    assert error.value.field == "after"


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_text_is_cut_into_words_as_character_by_character_folding_cuts_it(text: str) -> None:
    """The regex fast path for ASCII text places words exactly where the general walk does."""
    assert search_module._word_spans(text) == search_module._word_spans_by_char(text)
