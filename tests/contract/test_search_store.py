"""Issue 19 on every backend: `Messages.search` finds what `chatcore.search.matches` says (folded words in any
script, ids, phrases, the last word as a prefix), only in rooms one is in and from one's joining on, live messages
only, within its filters and cursor; the fake is the reference the SQL full-text indexes must match."""

from __future__ import annotations

import attrs
import pytest
from sqlalchemy import text

import chat_adapters.sql.messages as sql_messages
from chat_adapters.sql.writer import index_search_backlog
from chatcore.errors import InvalidError
from chatcore.groups import Group
from chatcore.model import (
    GroupAction,
    Member,
    Message,
    MessageDraft,
    MessageId,
    MessageType,
    Role,
    Room,
    RoomId,
    SystemNote,
    UserId,
)
from chatcore.search import SearchQuery, matches, parse_terms, searchable
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, CAROL, DAVE, T0, at, draft, photo, room

TEXTS = [
    "Herr Müller kommt aus der Großstraße",
    "L'élève a mangé au café à Noël",
    "İstanbul'da \u0131l\u0131k bir gün, I\u015eIK a\u00e7\u0131k",  # \u0131: the dotless i
    "日本語のテキストです",
    "👍 done, thanks 🎉",
    "Ticket PO-1234 is open; see po 99 and 1234-PO",
    "Quarterly review meeting moved to Friday",
    "onboarding checklist for the new hire",
    "Re: re: RE: the review",
    "naïve coöperation façade — ﬁnal Ⅻ",
]
QUERIES = [
    "muller",
    "MÜLLER",
    "strasse",
    "großstr",
    "eleve cafe",
    "noel",
    '"cafe a noel"',
    "istanbul",
    "ilik",
    "isik",
    "日本",
    "日本語のテキストです",
    '"日本"',
    "done",
    "PO-1234",
    '"1234 po"',
    "po 1234",
    "1234-po",
    '"review meeting"',
    '"meeting review"',
    "review meet",
    "onboard",
    '"onboard"',
    "re review",
    '"re re re the review"',
    "naive cooperation facade final",
    "xii",
    "fin",
    "friday onboarding",
    "zzz",
]


FILL = {"now": False}  # whether `_add` and `_sent` fill SQLite's FTS5 table at once (else the writer may, later)


@pytest.fixture(autouse=True, params=["window", "index", "both"])
def scan_window(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQL stores look at the newest messages row by row, then at older ones through the full-text index:
    every test runs with the default window (these few messages: all row by row, SQLite's FTS5 table left
    unfilled), none (all through the index, filled after every write) and one of three (both steps in one
    search)."""
    size = {"window": sql_messages.SCAN_WINDOW, "index": 0, "both": 3}[request.param]
    monkeypatch.setattr(sql_messages, "SCAN_WINDOW", size)
    monkeypatch.setitem(FILL, "now", request.param != "window")


async def _fill(backend: Backend) -> None:
    if FILL["now"] and backend.engine is not None:
        await index_search_backlog(backend.engine)


async def _add(backend: Backend, *drafts: MessageDraft) -> list[Message]:
    async with backend.uow() as uow:
        added = [await uow.messages.add(d) for d in drafts]
        await uow.commit()
    await _fill(backend)
    return added


async def _search(backend: Backend, user: UserId, q: str, **filters: object) -> list[MessageId]:
    query = SearchQuery(terms=parse_terms(q), **filters)  # type: ignore[arg-type]
    async with backend.uow() as uow:
        return [m.id for m in await uow.messages.search(user, query)]


async def _save(backend: Backend, message: Message) -> None:
    async with backend.uow() as uow:
        await uow.messages.save(message)
        await uow.commit()


def _group_draft(room_id: RoomId, sender: UserId, content: str, *, note: SystemNote | None = None) -> MessageDraft:
    return MessageDraft(
        room_id=room_id,
        sender_id=sender,
        receiver_id=None,
        message_type=MessageType.SYSTEM if note else MessageType.TEXT,
        content=content,
        file=None,
        created_at=T0,
        system=note,
    )


async def _group(backend: Backend, *users: UserId) -> Room:
    members = tuple(
        Member(user_id=user, role=Role.OWNER if i == 0 else Role.MEMBER, joined_at=T0) for i, user in enumerate(users)
    )
    async with backend.uow() as uow:
        created = await uow.rooms.create_group(created_by=users[0], name="Team", members=members, at=T0)
        await uow.commit()
    return created


async def _set_members(backend: Backend, room_id: RoomId, users: tuple[UserId, ...]) -> None:
    async with backend.uow() as uow:
        members = await uow.rooms.members(room_id)
        kept = tuple(m for m in members if m.user_id in users)
        added = tuple(
            Member(user_id=u, role=Role.MEMBER, joined_at=at(30))
            for u in users
            if u not in {m.user_id for m in members}
        )
        await uow.rooms.save_group(room_id, Group(name="Team", members=(*kept, *added)), at=at(30))
        await uow.commit()


async def test_every_query_finds_what_the_reference_meaning_says(backend: Backend) -> None:
    """Each query against the same texts: the stores' indexes agree with `matches` word for word, newest first."""
    created = await room(backend, ALICE, BOB)
    sent = await _add(backend, *(draft(created.id, ALICE, BOB, text, when=at(i)) for i, text in enumerate(TEXTS)))

    for q in QUERIES:
        terms = parse_terms(q)
        expected = [m.id for m in reversed(sent) if matches(terms, searchable(m.message_type, m.content, None))]
        assert await _search(backend, BOB, q) == expected, q

    assert await _search(backend, ALICE, "muller") == [sent[0].id]  # both people of the room
    found = await _search(backend, ALICE, "PO-1234")
    assert found == [sent[5].id]


async def test_the_expected_matches_of_the_reference_texts(backend: Backend) -> None:
    """The reference meaning itself, spelled out for a few queries (so the test above cannot pass vacuously)."""
    created = await room(backend, ALICE, BOB)
    sent = await _add(backend, *(draft(created.id, ALICE, BOB, text, when=at(i)) for i, text in enumerate(TEXTS)))
    ids = [m.id for m in sent]

    assert await _search(backend, BOB, "MÜLLER grossstr") == [ids[0]]
    assert await _search(backend, BOB, "eleve noel") == [ids[1]]
    assert await _search(backend, BOB, "ilik isik") == [ids[2]]
    assert await _search(backend, BOB, "日本") == [ids[3]]
    assert await _search(backend, BOB, '"日本"') == []  # a whole word when quoted
    assert await _search(backend, BOB, "PO-1234") == [ids[5]]
    assert await _search(backend, BOB, '"1234 po"') == [ids[5]]  # "1234-PO" at the end
    assert await _search(backend, BOB, '"review meeting"') == [ids[6]]
    assert await _search(backend, BOB, '"meeting review"') == []
    assert await _search(backend, BOB, "review") == [ids[8], ids[6]]
    assert await _search(backend, BOB, "onboard") == [ids[7]]
    assert await _search(backend, BOB, '"onboard"') == []
    assert await _search(backend, BOB, "final xii") == [ids[9]]
    with pytest.raises(InvalidError):
        parse_terms("👍 🎉")  # emoji are no words: nothing to search by


async def test_a_file_is_found_by_its_name_and_a_system_message_never(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    group = await _group(backend, ALICE, BOB)
    note = SystemNote(action=GroupAction.RENAMED, actor_id=ALICE, name="Payroll")
    (pdf, captioned) = await _add(
        backend,
        draft(created.id, ALICE, BOB, None, file=photo("Contract-2024_final.png")),
        draft(created.id, BOB, ALICE, "the signed one", file=photo("scan.png")),
    )
    await _add(backend, _group_draft(group.id, ALICE, "Payroll renamed", note=note))

    assert await _search(backend, BOB, "contract 2024") == [pdf.id]
    assert await _search(backend, BOB, '"2024 final png"') == [pdf.id]
    assert await _search(backend, BOB, "signed scan") == [captioned.id]
    assert await _search(backend, BOB, "payroll") == []
    assert await _search(backend, BOB, "renamed") == []


async def test_an_edit_is_found_by_its_new_words_and_a_deleted_message_by_none(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    first, second = await _add(
        backend,
        draft(created.id, ALICE, BOB, "budget draft attached"),
        draft(created.id, ALICE, BOB, "budget approved"),
    )
    await _save(backend, attrs.evolve(first, content="forecast draft attached", is_edited=True, updated_at=at(5)))
    await _save(backend, attrs.evolve(second, content=None, is_deleted=True, updated_at=at(6)))

    assert await _search(backend, BOB, "budget") == []
    assert await _search(backend, BOB, "forecast") == [first.id]
    assert await _search(backend, BOB, "approved") == []
    assert await _search(backend, BOB, "draft") == [first.id]
    # Edited again (the index takes the old words out once more) and then deleted with its text still there.
    await _save(backend, attrs.evolve(first, content="budget final", is_edited=True, updated_at=at(7)))
    assert await _search(backend, BOB, "budget") == [first.id]
    assert await _search(backend, BOB, "forecast") == []
    await _save(backend, attrs.evolve(first, content="budget final", is_deleted=True, updated_at=at(8)))
    assert await _search(backend, BOB, "budget") == []


async def test_only_rooms_one_is_in_from_ones_joining_on(backend: Backend) -> None:
    direct = await room(backend, ALICE, BOB)
    group = await _group(backend, ALICE, BOB, CAROL)
    (in_direct,) = await _add(backend, draft(direct.id, ALICE, BOB, "salary review"))
    (before,) = await _add(backend, _group_draft(group.id, ALICE, "salary bands before Dave"))
    await _set_members(backend, group.id, (ALICE, BOB, CAROL, DAVE))
    (after,) = await _add(backend, _group_draft(group.id, BOB, "salary bands after Dave"))

    assert await _search(backend, ALICE, "salary") == [after.id, before.id, in_direct.id]
    assert await _search(backend, CAROL, "salary") == [after.id, before.id]  # not in the direct room
    assert await _search(backend, DAVE, "salary") == [after.id]  # added later: from his joining on
    assert await _search(backend, UserId(99), "salary") == []  # in no room
    assert await _search(backend, DAVE, "salary", room_id=direct.id) == []

    await _set_members(backend, group.id, (ALICE, BOB, DAVE))  # Carol is removed
    assert await _search(backend, CAROL, "salary") == []
    assert await _search(backend, DAVE, "salary") == [after.id]


async def test_filters_and_the_cursor(backend: Backend) -> None:
    one = await room(backend, ALICE, BOB)
    two = await room(backend, ALICE, CAROL)
    sent = await _add(
        backend,
        draft(one.id, ALICE, BOB, "offer letter v1", when=at(10)),
        draft(one.id, BOB, ALICE, "offer letter v2", when=at(20)),
        draft(two.id, CAROL, ALICE, "offer letter v3", when=at(30)),
        draft(two.id, ALICE, CAROL, "offer letter v4", when=at(40)),
        draft(one.id, ALICE, BOB, "offer letter v5", when=at(50)),
    )
    ids = [m.id for m in sent]
    everything = list(reversed(ids))

    assert await _search(backend, ALICE, "offer letter") == everything
    assert await _search(backend, ALICE, "offer", room_id=two.id) == [ids[3], ids[2]]
    assert await _search(backend, ALICE, "offer", room_id=RoomId(999)) == []
    assert await _search(backend, ALICE, "offer", sender_id=ALICE) == [ids[4], ids[3], ids[0]]
    assert await _search(backend, ALICE, "offer", sender_id=CAROL, room_id=one.id) == []
    assert await _search(backend, ALICE, "offer", after=at(20)) == [ids[4], ids[3], ids[2], ids[1]]
    assert await _search(backend, ALICE, "offer", before=at(20)) == [ids[0]]
    assert await _search(backend, ALICE, "offer", after=at(20), before=at(40)) == [ids[2], ids[1]]
    # The cursor: pages of two, each `limit + 1` long while more lie beyond.
    assert await _search(backend, ALICE, "offer", limit=2) == everything[:3]
    assert await _search(backend, ALICE, "offer", limit=2, before_id=everything[1]) == everything[2:5]
    assert await _search(backend, ALICE, "offer", limit=2, before_id=everything[3]) == everything[4:]
    assert await _search(backend, ALICE, "offer", limit=2, before_id=ids[0]) == []
    assert await _search(backend, BOB, "offer v") == [ids[4], ids[1], ids[0]]  # Bob's room only
    assert await _search(backend, BOB, "offer v2") == [ids[1]]
    assert await _search(backend, BOB, '"letter v2"') == [ids[1]]


async def test_messages_of_the_fast_writer_are_found_at_once(backend: Backend) -> None:
    """The send path's batch insert indexes in its own transaction, with and without mentions."""
    created = await room(backend, ALICE, BOB)
    plain = attrs.evolve(draft(created.id, ALICE, BOB, "Gehaltsabrechnung März"), client_msg_id="a")
    named = attrs.evolve(draft(created.id, BOB, ALICE, "März <@1> ok", when=at(1)), mentions=(ALICE,))
    (first,) = await backend.writer.add_batch([plain])
    (second,) = await backend.writer.add_batch([named])
    (third,) = await backend.writer.add_batch([draft(created.id, BOB, ALICE, None, file=photo("März.png"))])
    await _fill(backend)

    assert await _search(backend, ALICE, "marz") == [third.id, second.id, first.id]
    assert await _search(backend, BOB, "gehaltsabrechnung") == [first.id]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_finds_what_its_index_has_not_taken_yet_and_edits_reach_the_index_once_it_has(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's FTS5 table takes messages after their commit (migration 0008): a search reads the newer ones row
    by row, an edit or delete of one leaves the FTS5 table alone (its words go in when its batch comes), and the
    table ends up holding exactly the live messages' words (FTS5's own integrity check against the content)."""
    assert backend.engine is not None
    monkeypatch.setattr(sql_messages, "SCAN_WINDOW", 0)  # everything below `indexed_upto` through the index
    created = await room(backend, ALICE, BOB)
    async with backend.uow() as uow:
        one, two = [await uow.messages.add(draft(created.id, ALICE, BOB, f"alpha {n}")) for n in ("one", "two")]
        await uow.commit()
    await index_search_backlog(backend.engine)
    async with backend.uow() as uow:
        three, four = [await uow.messages.add(draft(created.id, BOB, ALICE, f"alpha {n}")) for n in ("three", "four")]
        await uow.commit()
    await _save(backend, attrs.evolve(three, content="beta three", is_edited=True, updated_at=at(5)))
    await _save(backend, attrs.evolve(four, content=None, is_deleted=True, updated_at=at(6)))
    await _save(backend, attrs.evolve(one, content="beta one", is_edited=True, updated_at=at(7)))

    for _ in range(2):  # before the index takes three and four, and after
        assert await _search(backend, BOB, "alpha") == [two.id]
        assert await _search(backend, BOB, "beta") == [three.id, one.id]
        assert await _search(backend, BOB, "three") == [three.id]
        assert await _search(backend, BOB, "four") == []
        await index_search_backlog(backend.engine)
    async with backend.engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO chat_messages_fts (chat_messages_fts, rank) VALUES ('integrity-check', 1)")
        )
        (upto,) = (await connection.execute(text("SELECT indexed_upto FROM chat_messages_fts_state"))).one()
    assert upto == four.id


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_writer_fills_the_index_after_its_sends(backend: Backend) -> None:
    """Batches sent close together are taken into the FTS5 table by the writer, a round at a time, the last of
    them at the latest when the writer closes."""
    assert backend.engine is not None
    created = await room(backend, ALICE, BOB)
    sent = []
    for n in range(5):
        sent += await backend.writer.add_batch(
            [attrs.evolve(draft(created.id, ALICE, BOB, f"round {n}"), client_msg_id=f"r{n}")]
        )
    await backend.writer.close()

    async with backend.engine.begin() as connection:
        (upto,) = (await connection.execute(text("SELECT indexed_upto FROM chat_messages_fts_state"))).one()
        await connection.execute(
            text("INSERT INTO chat_messages_fts (chat_messages_fts, rank) VALUES ('integrity-check', 1)")
        )
        (held,) = (
            await connection.execute(
                text("SELECT count(*) FROM chat_messages_fts WHERE chat_messages_fts MATCH 'round'")
            )
        ).one()
    assert (upto, held) == (sent[-1].id, 5)
