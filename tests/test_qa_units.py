"""Fast unit tests of the answer layer's parts (no model)."""

from __future__ import annotations

import pytest

from qa.dates import find_dates, parse_date, resolve_relative, words_to_number
from qa.question import analyze, split_parts
from qa.rewrite import rule_rewrite
from qa.types import Passage
from qa.verify import parse_claims, verify


def P(text: str, date: str = "", title: str = "T") -> Passage:  # noqa: N802
    return Passage(
        id="x",
        text=text,
        source="s",
        file_name="f.txt",
        title=title,
        doc_type="news",
        date=date,
        section="s",
        start=0,
        end=len(text),
        score=1.0,
    )


@pytest.mark.parametrize(
    ("expr", "ref", "expected"),
    [
        ("February 2", "2019-01-16", "February 2, 2019"),
        ("December 30", "2019-01-16", "December 30, 2018"),
        ("June 1, 1988", "", "June 1, 1988"),
        ("19 November 1990", "", "November 19, 1990"),
        ("the first day of July, one thousand nine hundred and sixty-eight", "", "1 July 1968"),
    ],
)
def test_dates_are_resolved_against_the_document_date(expr: str, ref: str, expected: str) -> None:
    assert parse_date(expr, ref)[0] == expected


def test_relative_dates_and_spelled_numbers() -> None:
    assert resolve_relative("Wednesday", "2019-01-16") == "January 16, 2019"
    assert resolve_relative("Tuesday", "2019-01-16") == "January 15, 2019"
    assert resolve_relative("last month", "2019-01-16") == "December 2018"
    assert words_to_number("one thousand nine hundred and ninety") == 1990
    assert words_to_number("forty") == 40 and words_to_number("seventy-two") == 72
    assert [d[2] for d in find_dates("signed December 8, 1987 , and in force June 1, 1988")] == [
        "December 8, 1987",
        "June 1, 1988",
    ]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the INF Treaty enter into force?", "date"),
        ("In what year does New START expire?", "year"),
        ("How many battle tanks may a group hold?", "number"),
        ("How far in advance must a Party notify?", "number"),
        ("Who was Russia's top negotiator?", "person"),
        ("Where was the target area?", "place"),
        ("Which treaty does the statute say Russia violates?", "treaty"),
        ("Is the CFE Treaty limited in duration?", "yesno"),
        ("What new dialogue did they announce?", "other"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    assert analyze(question).kind == kind


def test_two_part_questions_split_only_at_question_words() -> None:
    assert split_parts("When did X enter into force, and by what date did Y want it done?") == [
        "When did X enter into force?",
        "By what date did Y want it done?",
    ]
    assert split_parts("Which five countries, China and France among them, issued it?") == [
        "Which five countries, China and France among them, issued it?"
    ]


def test_follow_up_is_rewritten_with_the_previous_entity() -> None:
    history = [("Who are the depositaries of the NPT?", "…")]
    assert rule_rewrite("and when did it enter into force?", history) == "When did the NPT enter into force?"
    assert rule_rewrite("When did the NPT enter into force?", history) == "When did the NPT enter into force?"
    assert rule_rewrite(
        "and how can a state withdraw from it?", [("What does the Treaty on Open Skies say about quotas?", "")]
    ) == ("How can a state withdraw from the Treaty on Open Skies?")


def test_verification_drops_invented_facts_and_repoints_markers() -> None:
    passages = [
        P("Russians said Americans confirmed the exit from February 2.", "2019-01-16"),
        P("It entered into force June 1, 1988."),
    ]
    ok = verify("The exit date was February 2, 2019 [1].", passages)
    assert ok.ok and ok.text == "The exit date was February 2, 2019 [1]."
    invented = verify("The exit date was March 3, 2019 [1].", passages)
    assert not invented.ok and invented.dropped == ["The exit date was March 3, 2019."]
    repointed = verify("It entered into force on June 1, 1988 [1].", passages)
    assert repointed.text.endswith("[2].") and repointed.repointed == 1


def test_marker_to_a_missing_passage_is_removed_or_repointed() -> None:
    passages = [P(f"Passage {i} says the limit is {i * 10} tanks.") for i in range(1, 5)]
    result = verify("The limit is 30 tanks [7].", passages)
    assert result.removed_markers == 1 and result.text == "The limit is 30 tanks [3]."
    assert not verify("The limit is 99 tanks [7].", passages).ok


def test_claims_keep_their_markers() -> None:
    claims = parse_claims("Yes [1]. It was signed in 1990 [2] [3].")
    assert [(c.text, c.markers) for c in claims] == [("Yes.", [1]), ("It was signed in 1990.", [2, 3])]
