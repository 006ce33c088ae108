"""The kinds of answer a question asks for, part by part, and whether a text gives one."""

import pytest

from kit.asked_answers import asked_kinds, counted_noun, gives


@pytest.mark.parametrize("question, kinds", [
    ("What does the T Tablet cost without a mobile plan, and from when is it available?", ["money", "date"]),
    ("Who became the new Managing Director of the Sales and Service unit?", ["name"]),
    ("At which ports is Telekom building 5G campus networks?", ["name"]),
    ("How many Telekom employees volunteered at the gala?", ["count"]),
    ("What percentage stake does Deutsche Telekom hold in Teridion?", ["percent"]),
    ("What top speed do the teleoperated vehicles reach?", ["speed"]),
    ("How much advance notice can municipalities get before a flood?", ["duration"]),
    ("What is the battery capacity of the phone?", ["size"]),
    ("How did free cash flow develop from 2022 to 2023?", []),
])
def test_asked_kinds_per_part_of_the_question(question, kinds):
    assert asked_kinds(question) == kinds


def test_money_percent_speed_size_and_dates_are_recognised_as_written():
    assert gives("Without a plan it costs a one-time fee of 219 euros.", "money")
    assert gives("The brand value is USD 67.2 billion.", "money") and gives("It is 51.5 billion US dollars.", "money")
    assert not gives("The brand grew by 9 percent.", "money") and gives("The brand grew by 9 percent.", "percent")
    assert gives("A data rate of 12.3 Gbit/s was measured.", "speed") and not gives("It has 12 antennas.", "speed")
    assert gives("The archive grows to 80 petabytes.", "size") and gives("It will be available from August 24.", "date")
    assert gives("warning half an hour before the flood", "duration")


def test_a_count_counts_what_the_question_counts_when_the_text_names_it():
    question = "How many tickets were given away?"
    assert counted_noun(question) == "tickets" and counted_noun("How many Telekom employees helped?") == "employees"
    assert gives("Telekom gave away 500 tickets for the concert.", "count", question)
    # the text names tickets but counts something else (a date, a time): no count of tickets
    assert not gives("The tickets are offered from October 26, 3 p.m.", "count", question)
    # the text calls them otherwise: any figure that is not a year may be the count
    assert gives("Over 7,000 athletes will compete.", "count", "How many competitors were expected?")
    assert not gives("It was founded in 2013.", "count", "How many competitors were expected?")


def test_a_name_is_one_the_question_does_not_name():
    question = "Which start-up builds the bell box with Deutsche Telekom?"
    assert gives("The start-up smartcustos builds the box.", "name", question)
    assert not gives("Deutsche Telekom builds the box.", "name", question)
