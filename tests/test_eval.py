from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import contains, crag_score, is_correct, judge_row, load_questions, summarize
from eval.metrics import citation_precision
from tests.conftest import DEV_SET

Q = {
    "id": "q1",
    "question": "When?",
    "answer": "February 2, 2019",
    "aliases": [],
    "must": [["february 2", "2019-02-02"]],
    "sources": ["a.txt"],
    "type": "date",
}
UNANSWERABLE = {
    "id": "q2",
    "question": "Who?",
    "answer": "unanswerable",
    "must": [],
    "sources": [],
    "type": "unanswerable",
}


def test_whole_word_and_number_matching() -> None:
    assert contains("It was on February 2, 2019.", "february 2")
    assert not contains("It was on February 20, 2019.", "february 2")
    assert contains("as many as 1500 warheads", "1,500") and contains("as many as 1,500", "1500")
    assert not contains("us-based", "usa") and contains("the US said", "us")
    assert is_correct("China, France and Russia", [["china"], ["france"], ["russia", "russian federation"]])
    assert not is_correct("China and France", [["china"], ["france"], ["russia"]])
    assert is_correct("The answer is forty.", [], gold="forty")


def test_edge_cases_of_verdicts() -> None:
    empty = judge_row({"answer": "", "abstained": False, "citations": [], "retrieved": []}, Q)
    assert not empty["correct"] and empty["crag"] == -1 and empty["citation_precision"] is None
    unknown = judge_row(
        {
            "answer": "February 2 [1]",
            "abstained": False,
            "citations": [{"source": "zzz.txt"}],
            "retrieved": [{"source": "a.txt"}],
        },
        Q,
    )
    assert (
        unknown["correct"]
        and unknown["citation_precision"] == 0.0
        and unknown["cites_gold"] is False
        and unknown["rr"] == 1.0
    )
    answered = judge_row(
        {"answer": "Reagan", "abstained": False, "citations": [{"source": "a.txt"}], "retrieved": []}, UNANSWERABLE
    )
    assert not answered["answerable"] and not answered["abstained"] and answered["crag"] == -1
    refused = judge_row(
        {"answer": "The documents don't say.", "abstained": True, "citations": [], "retrieved": []}, UNANSWERABLE
    )
    assert refused["abstained"] and refused["crag"] == 0
    m = summarize([empty, unknown, answered, refused])
    assert m["accuracy"] == 0.5 and m["abstention_rate_unanswerable"] == 0.5 and m["citation_precision"] == 0.0
    assert crag_score(True, False, True) == 1 and citation_precision([], ["a"]) is None


def test_csv_sets_and_malformed_lines(tmp_path: Path) -> None:
    csv_path = tmp_path / "set.csv"
    csv_path.write_text(
        'id,question,answer,must,sources,type\nc1,When?,Feb 2,"february 2|feb 2;2019",a.txt|b.txt,date\nc2,,x,,,\n'
    )
    qs, errors = load_questions(csv_path)
    assert (
        [q.id for q in qs] == ["c1"]
        and qs[0].must == [["february 2", "feb 2"], ["2019"]]
        and qs[0].sources == ["a.txt", "b.txt"]
    )
    assert len(errors) == 1 and ":3:" in errors[0]
    jl = tmp_path / "set.jsonl"
    jl.write_text(
        json.dumps({"id": "a", "question": "Only a question?"})
        + "\n{not json\n"
        + json.dumps({"id": "b", "question": "Q?", "sources": ["x.md"]})
        + "\n"
    )
    qs, errors = load_questions(jl)
    assert [q.id for q in qs] == ["a", "b"] and "set.jsonl:2" in errors[0]


@pytest.mark.integration
def test_eval_runs_the_dev_set_and_resumes(corpus_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from cli import main

    settings, _, _ = corpus_store
    monkeypatch.setenv("RAGQA_DATA_DIR", str(settings.store.data_dir))
    out = tmp_path / "run"
    assert main(["eval", str(DEV_SET), "--out", str(out), "--limit", "5", "--llm", "extractive"]) == 0
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 5
    assert main(["eval", str(DEV_SET), "--out", str(out), "--llm", "extractive"]) == 0  # resumes: the first 5 are kept
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 32 and len({r["id"] for r in lines}) == 32
    for name in ("report.json", "report.md", "accuracy_by_type.png", "latency.png"):
        assert (out / name).stat().st_size > 0
    report = json.loads((out / "report.json").read_text())
    for key in (
        "accuracy",
        "citation_precision",
        "citation_recall",
        "abstention_rate_unanswerable",
        "false_refusal_rate",
        "recall_at_k",
        "mrr",
    ):
        assert 0.0 <= report["metrics"][key] <= 1.0
    assert -1.0 <= report["metrics"]["crag_score"] <= 1.0
    assert report["fingerprints"]["embedding_model"].startswith("all-MiniLM-L6-v2")
    assert set(report["by_type"]) >= {"date", "factoid", "number", "yes-no", "multi-doc", "unanswerable"}
    assert (
        main(
            [
                "eval",
                str(DEV_SET),
                "--out",
                str(tmp_path / "again"),
                "--compare",
                str(out),
                "--limit",
                "3",
                "--llm",
                "extractive",
            ]
        )
        == 0
    )
    assert "previous" in (tmp_path / "again" / "report.md").read_text()
    # Retyped as keywords into the same folder: the answers to the questions as asked are not reused.
    assert (
        main(["eval", str(DEV_SET), "--out", str(out), "--limit", "3", "--typed-as", "keywords", "--llm", "extractive"])
        == 0
    )
    asked = [r["question"] for r in lines[:3]]
    retyped = [json.loads(x)["question"] for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(retyped) == 3 and retyped != asked and all(q == q.lower() and "?" not in q for q in retyped)
    assert "(typed as keywords)" in (out / "report.md").read_text()


def test_a_follow_up_is_asked_after_its_conversation(
    corpus_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from cli import main

    settings, _, _ = corpus_store
    monkeypatch.setenv("RAGQA_DATA_DIR", str(settings.store.data_dir))
    rows = [
        {"id": "c", "history": ["Where was the CFE Treaty signed?"], "question": "when was it signed?", "answer": "x"},
        {"id": "n", "history": ["Where was the NPT signed?"], "question": "when was it signed?", "answer": "x"},
    ]
    (tmp_path / "f.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    assert main(["eval", str(tmp_path / "f.jsonl"), "--out", str(out), "--llm", "extractive"]) == 0
    got = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert got["c"]["question"] == got["n"]["question"] == "when was it signed?"  # scored as typed
    assert "CFE" in got["c"]["rewritten_question"] and "NPT" in got["n"]["rewritten_question"]


def test_a_set_retyped_as_users_type_keeps_its_gold_and_drops_yes_no_only_from_keywords() -> None:
    from eval.dataset import Question, typed_as

    qs = [
        Question(id="a", question="When did the Widget Treaty enter into force?  ", must=[["may 4"]], type="date"),
        Question(id="b", question="Is the Widget Treaty of unlimited duration?", answer="Yes", type="yes-no"),
    ]
    assert typed_as(qs, "asked") == qs
    lower = typed_as(qs, "lower")
    assert [q.question for q in lower] == [
        "when did the widget treaty enter into force",
        "is the widget treaty of unlimited duration",
    ]
    keywords = typed_as(qs, "keywords")
    assert [q.question for q in keywords] == ["widget treaty enter force"]
    assert keywords[0].must == [["may 4"]] and keywords[0].id == "a" and qs[0].question.startswith("When")


def test_abstention_curve_refuses_low_support_and_picks_the_best_crag_threshold(tmp_path: Path) -> None:
    from eval.curve import curve, point

    def row(answerable: bool, correct: bool, support: float, fallback: bool = False) -> dict[str, object]:
        verdict = {"answerable": answerable, "correct": correct, "abstained": False}
        return {"verdict": verdict, "support": support, "fallback": fallback}

    rows = [
        row(True, True, 0.9),
        row(True, True, 0.6),
        row(True, False, 0.3),
        row(False, False, 0.2),
        row(True, True, 0.1, True),
    ]
    low, high = point(rows, 0.0), point(rows, 0.5)
    assert (low["coverage"], low["refused_unanswerable"], low["crag"]) == (1.0, 0.0, 3 - 1 - 1)
    # At 0.5 the wrong answer and the unanswerable one are refused; the extractive fallback keeps its own threshold.
    assert (high["coverage"], high["refused_unanswerable"], high["crag"]) == (0.75, 1.0, 3)
    assert max(curve(rows), key=lambda c: c["crag"])["crag"] == 3


def test_every_ablation_switches_something_that_exists() -> None:
    """A renamed function or a misspelt setting would make an ablation row a silent no-op:
    `model_copy(update=...)` does not validate, and the table would credit a rule with nothing."""
    from eval.ablation import ABLATIONS
    from qa.config import QAConfig

    for name, switch in ABLATIONS.items():
        with switch() as patch:  # a mock.patch of a name that is gone raises here
            if isinstance(patch, dict):
                assert set(patch) <= set(QAConfig.model_fields), name
