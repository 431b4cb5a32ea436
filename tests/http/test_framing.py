"""The frame ledger: large incoming messages share one byte budget, without piling up and without deadlock."""

from __future__ import annotations

from typing import Any, cast

from chat_http.framing import BudgetedWebSocketProtocol, FrameLedger


class Holder:
    """Stands in for a protocol: records being resumed."""

    def __init__(self) -> None:
        self.resumed = 0

    def resume_for_budget(self) -> None:
        self.resumed += 1


def holders(count: int) -> list[BudgetedWebSocketProtocol]:
    return [cast(BudgetedWebSocketProtocol, Holder()) for _ in range(count)]


def resumed(holder: BudgetedWebSocketProtocol) -> int:
    return int(cast(Any, holder).resumed)


def test_within_the_budget_everyone_reads_beyond_it_only_the_first_receiver() -> None:
    ledger = FrameLedger(limit=100)
    first, second, third = holders(3)
    ledger.receiving(first, 60)
    ledger.receiving(second, 30)
    assert ledger.may_read(second)

    ledger.receiving(third, 20)  # 110: over the budget

    assert ledger.may_read(first)  # nothing handed to the app: only finishing a message frees bytes
    assert not ledger.may_read(second)
    assert not ledger.may_read(third)


def test_while_the_app_holds_bytes_nobody_reads_past_the_budget() -> None:
    """They are given back when the app is done: waiting for them is safe, and reading on would let whole
    messages pile up undecoded."""
    ledger = FrameLedger(limit=100)
    decoding, receiving = holders(2)
    ledger.handing(decoding, 90)
    ledger.receiving(receiving, 20)
    ledger.wait(receiving)

    assert not ledger.may_read(receiving)
    ledger.handing(decoding, 0)  # handled and released

    assert resumed(receiving) == 1
    assert ledger.total == 20


def test_a_socket_that_finished_a_message_queues_behind_the_others_for_its_next() -> None:
    ledger = FrameLedger(limit=100)
    first, second = holders(2)
    ledger.receiving(first, 90)
    ledger.receiving(second, 20)
    ledger.wait(second)

    ledger.receiving(first, 0)  # whole: to the app, which releases it at once here
    ledger.receiving(first, 85)  # and its next large message begins, behind `second`

    assert resumed(second) == 1
    assert list(ledger.partial) == [second, first]
    assert not ledger.may_read(first)
    assert ledger.may_read(second)


def test_a_socket_that_goes_away_frees_its_bytes_and_no_longer_waits() -> None:
    ledger = FrameLedger(limit=10)
    first, second = holders(2)
    ledger.receiving(first, 50)
    ledger.receiving(second, 5)
    ledger.wait(second)

    ledger.receiving(second, 0)  # its connection was lost
    ledger.receiving(first, 1)

    assert resumed(second) == 0
    assert ledger.partial == {first: 1}
