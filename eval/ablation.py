"""Ablations: switch one rule or stage off, run the same question sets, count answers.

Each ablation is a patch applied for one run in this process (the model loads once); the
table says what each rule earns (correct answers with it minus without it) on every set.

    python -m eval.ablation --set dev ../shared/eval/dev.jsonl /tmp/d-dev \\
        --set rgb ../shared/bench/rgb/dev.jsonl /tmp/d-rgb --out runs/ablation
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from .dataset import load_questions
from .metrics import judge_row, summarize
from .runner import _answer_row

NEVER = re.compile(r"(?!)")


@contextmanager
def _config(**update: Any) -> Iterator[dict[str, Any]]:
    yield update


def _no_fallback() -> AbstractContextManager[Any]:
    from qa.verifier import Verifier

    verify = Verifier.verify

    def without(self: Any, part: Any, reading: Any) -> Any:
        read = yield from verify(self, part, reading)
        if read.fallback:
            read.abstain, read.where = True, None
        return read

    return mock.patch.object(Verifier, "verify", without)


def _text_rules_off() -> AbstractContextManager[Any]:
    import qa.text as text

    stack = ExitStack()
    stack.enter_context(mock.patch.object(text, "_FAMILIES", ()))
    stack.enter_context(mock.patch.dict(text.IRREGULAR, clear=True))
    text._related.cache_clear()
    text._word_tokens.cache_clear()
    stack.callback(text._related.cache_clear)
    stack.callback(text._word_tokens.cache_clear)
    return stack


def _no_state_names() -> AbstractContextManager[Any]:
    import qa.grounding as grounding

    stack = ExitStack()
    stack.enter_context(mock.patch.dict(grounding.STATE_NAMES, clear=True))
    stack.enter_context(mock.patch.object(grounding, "_STATE", NEVER))  # grounding: official = common name
    return stack


ABLATIONS: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "full pipeline": lambda: _config(),
    "grounding off (the model's answer and its own citation)": lambda: _config(verify=False),
    "extractive fallback off (abstain instead)": _no_fallback,
    "acronyms: no case restore, no title expansion": lambda: mock.patch.multiple(
        "qa.retrieval.LexicalIndex", restore_case=lambda self, q: q, expand=lambda self, q: q
    ),
    "two-part questions not split": lambda: mock.patch("qa.answerer.split_parts", lambda q: [q]),
    "a part that refers back does not name its document": lambda: mock.patch(
        "qa.parts.Part.referent", lambda self, passage, answer: ""
    ),
    "no carry-over of part 1's entity into part 2": lambda: mock.patch(
        "qa.search.PartSearch.carry_over", lambda self, parts, filters, k: parts
    ),
    "passage headers without the question's acronym": lambda: mock.patch(
        "qa.answerer.Answerer._acronym_titles", lambda self, question: {}
    ),
    "no article date as answer (header dates)": lambda: mock.patch("qa.verifier.dated", lambda *a, **k: None),
    "date answers not completed from their sentence and article date": lambda: mock.patch(
        "qa.verifier.complete_date", lambda answer, quote, date: answer
    ),
    "no year boost in retrieval": lambda: _config(date_boost=0.0),
    "year boost by document date only (not a year the passage names)": lambda: _config(year_in_text=False),
    "no second read of the first passage when the model finds nothing": lambda: _config(reread=False),
    "no third read of BM25's best passage after the second finds nothing": lambda: _config(reread_lexical=False),
    "second read may reply NOT FOUND": lambda: _config(reread_must_answer=False),
    "answers read in a sentence about another year accepted": lambda: _config(year_check=False),
    "other treaties read for a question that names one by acronym": lambda: _config(named_treaty_only=False),
    "bare-year answers not sharpened from other passages": lambda: mock.patch(
        "qa.verifier.sharpen_year", lambda *args: None
    ),
    "k=10 passages": lambda: _config(k=10),
    "ISO dates ('2017-03-03') not read as written dates": lambda: mock.patch("qa.grounding._ISO_DATE", NEVER),
    "fusion weights dense and BM25 alike (dense 1.0, not 1.5)": lambda: _config(dense_weight=1.0),
    "no verb families / irregular verbs in matching": _text_rules_off,
    # Word lists of the extractive reader (the fast mode and the fallback): run with --llm extractive.
    "table of official state names": _no_state_names,
    "list of not-a-person words": lambda: mock.patch("qa.spans.NOT_PERSON", set()),
    "list of generic capitalised words": lambda: mock.patch("qa.spans.GENERIC_CAPS", set()),
    "person-noun list ('which minister')": lambda: mock.patch("qa.question.PERSON_QUESTION", NEVER),
}


class Memo:
    """The model's replies remembered by prompt: an ablation that leaves a question's prompt
    unchanged gets the same reply without running the model again (replies are deterministic)."""

    def __init__(self, gen: Any) -> None:
        self.gen, self.name = gen, gen.name
        self.seen: dict[str, str] = {}

    def chat(
        self, messages: list[dict[str, str]], max_tokens: int, stop: list[str] | None = None, ban: Sequence[str] = ()
    ) -> Iterator[str]:
        key = json.dumps([messages, max_tokens, stop, list(ban)])
        if key not in self.seen:
            self.seen[key] = "".join(self.gen.chat(messages, max_tokens, stop, ban))
        yield self.seen[key]


_MEMO: dict[str, Memo] = {}


def run(
    name: str, sets: list[tuple[str, Path, Path]], settings: Any, build_store: Callable[..., Any]
) -> dict[str, Any]:
    from qa import Answerer
    from qa.generators import make_generator

    out: dict[str, Any] = {}
    with ABLATIONS[name]() as patch:
        cfg = settings.qa.model_copy(update=patch if isinstance(patch, dict) else {})
        for label, question_set, data_dir in sets:
            store = build_store(settings.override(data_dir=data_dir), create=False)
            generators: dict[str, Any] = {}
            if cfg.llm != "extractive":
                if cfg.llm not in _MEMO:
                    _MEMO[cfg.llm] = Memo(make_generator(cfg, cfg.llm, store.config.models_dir))
                generators[cfg.llm] = _MEMO[cfg.llm]
            answerer = Answerer(store, cfg, generators=generators)
            questions, _ = load_questions(question_set)
            verdicts = []
            for q in questions:
                row = _answer_row(answerer.ask(q.question))
                verdicts.append(judge_row(row, q.model_dump()))
            m = summarize(verdicts)
            out[label] = {"correct": m["correct"], "answerable": m["answerable"], "refused": m["refused_unanswerable"]}
    return out


def main(argv: list[str] | None = None) -> int:
    from cli import build_store
    from settings import Settings

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", nargs=3, action="append", metavar=("NAME", "QUESTIONS", "DATA_DIR"), required=True)
    p.add_argument("--only", nargs="*", help="ablation names (default: all)")
    p.add_argument("--llm", help="answer backend (default: RAGQA_LLM)")
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    args = p.parse_args(argv)
    sets = [(n, Path(q), Path(d)) for n, q, d in args.set]
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "ablation.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in args.only or ABLATIONS:
        if name not in results:  # resumable: each finished ablation is kept
            settings = Settings()
            if args.llm:
                settings = settings.override(llm=args.llm)
            results[name] = run(name, sets, settings, build_store)
            results_path.write_text(json.dumps(results, indent=2))
    full = results.get("full pipeline", {})
    print("| ablation | " + " | ".join(f"{n} correct" for n, _, _ in sets) + " | earned by the rule |")
    print("| --- | " + " | ".join("---" for _ in sets) + " | --- |")
    for name, res in results.items():
        cells = [
            f"{res[n]['correct']}/{res[n]['answerable']}"
            + (f", {res[n]['refused']} refused" if res[n]["refused"] else "")
            for n, _, _ in sets
        ]
        earned = (
            ", ".join(f"{n} {full[n]['correct'] - res[n]['correct']:+d}" for n, _, _ in sets)
            if full and name != "full pipeline"
            else "–"
        )
        print(f"| {name} | " + " | ".join(cells) + f" | {earned} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
