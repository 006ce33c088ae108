"""kit/answer_types.py: what kind of answer a question asks for, and whether a sentence gives one."""

import pytest

from kit.answer_types import asked_type, asks_for_list, gives_type


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("When will the T Tablet be available?", "date"),
        ("On which date was the warning day scheduled?", "date"),
        ("How much does the T Tablet cost?", "amount"),
        ("What does the T Tablet cost without a plan?", "amount"),
        ("Who became the new Managing Director?", "name"),
        ("Which vendors supply the Open RAN network?", "name"),
        ("Why does Telekom build fiber?", None),
    ],
)
def test_asked_type(query, kind):
    assert asked_type(query) == kind


def test_gives_type_tells_a_date_an_amount_and_a_new_name():
    assert gives_type("When will it be available?", "It will be available from August 24.")
    assert not gives_type("When will it be available?", "Customers praise its large display.")
    assert gives_type("How much does it cost?", "It costs a one-time fee of 219 euros.")
    assert not gives_type("How much does it cost?", "It launched in 2023 with a new design.")  # a year is no amount
    assert gives_type("Who leads the Quantum Lab?", "The lab is led by Claudia Nemat.")
    assert not gives_type("Who leads the Quantum Lab?", "The Quantum Lab is in a new building.")
    assert asks_for_list("Which partners did Telekom work with?") and not asks_for_list("Which is the newest lab?")
