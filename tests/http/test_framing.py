"""The frame ledger: large incoming messages share one byte budget; the oldest holder always reads."""

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


def test_within_the_budget_everyone_reads_beyond_it_only_the_oldest() -> None:
    ledger = FrameLedger(limit=100)
    first, second, third = holders(3)
    ledger.hold(first, 60)
    ledger.hold(second, 30)
    assert ledger.may_read(second)

    ledger.hold(third, 20)  # 110 held: over the budget

    assert ledger.may_read(first)  # the oldest: finishing it is what frees bytes
    assert not ledger.may_read(second)
    assert not ledger.may_read(third)


def test_bytes_given_back_resume_the_waiters_in_order_while_they_fit() -> None:
    ledger = FrameLedger(limit=100)
    first, second, third = holders(3)
    ledger.hold(first, 90)
    ledger.hold(second, 20)
    ledger.hold(third, 20)
    ledger.wait(second)
    ledger.wait(third)

    ledger.hold(first, 0)  # handled and released: 40 held

    assert [cast(Any, h).resumed for h in (second, third)] == [1, 1]
    assert ledger.total == 40
    assert next(iter(ledger.held)) is second  # the oldest holder now


def test_a_holder_that_goes_away_frees_its_bytes_and_is_no_longer_waiting() -> None:
    ledger = FrameLedger(limit=10)
    first, second = holders(2)
    ledger.hold(first, 50)
    ledger.hold(second, 5)
    ledger.wait(second)

    ledger.hold(second, 0)  # its connection was lost
    ledger.hold(first, 1)

    assert cast(Any, second).resumed == 0
    assert ledger.held == {first: 1}
