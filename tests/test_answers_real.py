"""The answer pipeline on the real corpus with the real models (MiniLM, Qwen via llama.cpp in
process, and an OpenAI-compatible llama.cpp server on loopback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from cli import main
from eval.dataset import load_questions, typed_as
from tests.conftest import CORPUS, DEV_SET, SERVER_MODEL, free_port, llama_server

pytestmark = pytest.mark.integration
INF = "When was the US exit date from the INF treaty?"


@pytest.mark.parametrize("backend", ["local", "extractive"])
def test_inf_exit_date_is_answered_and_cited(corpus_answerer, backend: str) -> None:  # type: ignore[no-untyped-def]
    a = corpus_answerer.ask(INF, backend=backend)
    assert a.backend == backend and not a.abstained and "February 2, 2019" in a.answer
    assert a.citations[0].source == "2019-01-16-lavrov-inf.txt" and a.citations[0].date == "2019-01-16"
    assert "February 2" in a.citations[0].quote and len(a.answer) <= 330


@pytest.mark.parametrize(
    "question",
    ["Which US president signed the INF Treaty?", "What is the population of Geneva according to the documents?"],
)
def test_unanswerable_questions_are_refused(corpus_answerer, question: str) -> None:  # type: ignore[no-untyped-def]
    a = corpus_answerer.ask(question)
    assert a.abstained and not a.citations and a.passages


def test_a_compound_typed_closed_is_searched_and_supported_as_the_documents_hyphenate_it(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    a = corpus_answerer.ask("onsite inspection agency set up year")
    # Typed closed, "onsite" matched no word of "On-Site": the answer 1988 had support 0.378 and was refused.
    assert a.rewritten_question == "on-site inspection agency set up year" and not a.abstained
    assert a.citations[0].source == "22-usc-2595-on-site-inspection-inf.md" and "1988" in a.citations[0].quote


def test_follow_up_on_real_corpus(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    first = corpus_answerer.ask("Who are the depositaries of the Treaty on Open Skies?")
    follow = corpus_answerer.ask(
        "and how much notice must a State Party give to withdraw from it?", history=[(first.question, first.answer)]
    )
    # The follow-up is made standalone and answered from the treaty's withdrawal Article (whether the 1.5B model
    # reads "six months" or the 30-day conference clause beside it is measured by `ragqa eval`, not here).
    assert "Treaty on Open Skies" in follow.rewritten_question and not follow.abstained
    cited = follow.citations[0]
    assert cited.source == "treaty-on-open-skies-1992.md" and "withdraw" in cited.section.lower()


@pytest.mark.parametrize("question", [INF, "inf exit date?"])
def test_a_follow_up_stays_in_the_document_the_last_answer_cited(corpus_answerer, question: str) -> None:  # type: ignore[no-untyped-def]
    first = corpus_answerer.ask(question)
    assert [c.source for c in first.citations] == ["2019-01-16-lavrov-inf.txt"]
    follow = corpus_answerer.ask("who announced it?", [first.turn()], last_cited=["2019-01-16-lavrov-inf.txt"])
    # Searched everywhere, this was answered "Donald Trump" from the Open Skies article ("President Donald
    # Trump announced this"), another treaty's exit. After the terse "INF exit date?" the model's rewrite
    # "Who announced the exit date?" dropped the treaty, so the search left the INF article.
    assert {p.file_name for p in follow.passages} == {"2019-01-16-lavrov-inf.txt"}
    assert all(c.source == "2019-01-16-lavrov-inf.txt" for c in follow.citations) and "Trump" not in follow.answer


def test_a_name_typed_small_starts_a_new_subject_and_is_what_the_next_follow_up_is_about(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    first = corpus_answerer.ask("inf exit date?")
    second = corpus_answerer.ask("new start expiry", [first.turn()], last_cited=[c.source for c in first.citations])
    # Three words and no capitalised name made it a follow-up: rewritten with the INF and searched in the INF
    # article first. The next "it" then meant the INF (or, in the chat, the NPT: "25 years").
    assert second.rewritten_question == "new start expiry" and not second.searched_in
    third = corpus_answerer.ask(
        "how long was it extended", [first.turn(), second.turn()], last_cited=[c.source for c in second.citations]
    )
    assert "New Start" in third.rewritten_question and "INF" not in third.rewritten_question


def test_a_keyword_query_gets_the_fact_not_a_yes(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # The model reads these keywords as a claim to confirm and replies "Yes [1]"; asked again, the figure.
    a = corpus_answerer.ask("obama nuclear budget hike 2016")
    assert not a.abstained and "1.8 billion" in a.answer.split(" — ")[0]
    assert a.citations[0].source == "2016-02-26-us-test-fires-icbm.txt"


def test_a_fact_only_a_documents_title_states_is_answered_from_it(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # The speaker is named in the speech's title alone, which heads each passage the model reads:
    # its right "Jake Sullivan" grounded in no sentence and was refused.
    a = corpus_answerer.ask("who gave the aca speech in 2023")
    assert a.answer.startswith("Jake Sullivan [1]")
    assert a.citations[0].source == "2023-06-02-sullivan-arms-control-association-remarks.txt"


def test_a_yes_the_model_would_also_give_the_opposite_question_is_a_no(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # The article reports a $1.8 billion hike. The model replies Yes, leans to Yes more than for
    # "Yes or no?", and leans to Yes far more for its own opposite ("… increase …"): the Yes is bias.
    a = corpus_answerer.ask("did obama's final budget cut nuclear arms spending")
    assert a.answer.startswith("No — ") and a.citations[0].source == "2016-02-26-us-test-fires-icbm.txt"


def test_two_questions_joined_by_and_are_split_by_the_model_and_each_cited(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # Two events of one treaty typed as one search, nothing between them but "and". Read whole, the
    # model answered the signing date alone; split, each part has its date and its citation.
    a = corpus_answerer.ask("inf treaty signed when and in force when")
    short = [part.split(" — ")[0] for part in a.answer.split("\n\n")]
    assert len(a.citations) == 2 and "December 8, 1987 [1]" in short[0] and "June 1, 1988 [2]" in short[1]
    assert all("1987" in c.quote and "1988" in c.quote for c in a.citations)


def test_a_year_read_in_a_treatys_date_in_words_is_completed_to_the_day(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # The model reads "Paris, 1990" in "DONE at Paris, this nineteenth day of November one thousand
    # nine hundred and ninety"; the year in words is the same year, so the day is added from the quote.
    # (Shown the CFE Treaty alone, the default since, the model replies "Paris, France" and the copy
    # step gives the date instead; the other treaties keep the prompt this step was written for.)
    from qa import Answerer

    config = corpus_answerer.config.model_copy(update={"named_treaty_only": False})
    answerer = Answerer(
        corpus_answerer.store, config, corpus_answerer.retriever, {"local": corpus_answerer.generator("local")}
    )
    a = answerer.ask("cfe signed where & when")
    assert "Paris, 19 November 1990 [1]" in a.answer.split(" — ")[0]
    assert a.citations[0].source == "cfe-treaty-1990.md" and "nineteenth day of November" in a.citations[0].quote


def test_the_choice_a_question_offers_is_answered_where_a_passage_makes_it(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # "nuclear or conventional": the model picks "conventional", one of the question's own words,
    # which grounding took as given, so the right answer was refused; now it is the fact to find.
    a = corpus_answerer.ask("us hypersonic missiles nuclear or conventional")
    assert not a.abstained and "conventional" in a.answer.split(" — ")[0].lower()
    assert "nuclear" not in a.answer.split(" — ")[0].lower()
    assert "conventionally-armed hypersonic" in a.citations[0].quote


def test_an_article_named_as_the_answer_is_cited_to_that_article(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # The model answers "Article VII", the label of the passage it read; the article's text never
    # repeats its own number, so grounding found the answer nowhere and refused it.
    a = corpus_answerer.ask("npt article on regional nuclear-free zones")
    assert not a.abstained and "Article VII" in a.answer.split(" — ")[0]
    assert a.citations[0].source == "npt-1968.md" and "Article VII" in a.citations[0].section
    assert "regional treaties" in a.citations[0].quote


def test_a_keyword_query_read_as_a_claim_by_the_second_read_gets_the_fact(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # A question of the shared dev set typed as keywords: the model replies NOT FOUND, then, shown the
    # first passage alone, "Yes [1]"; read once more with Yes and No banned, the figure (refused before).
    questions, _ = load_questions(DEV_SET)
    (q,) = [q for q in typed_as(questions, "keywords") if "observation flight" in q.question and "far" in q.question]
    a = corpus_answerer.ask(q.question)
    assert not a.abstained and "72 hours" in a.answer.split(" — ")[0]
    assert a.citations[0].source == "treaty-on-open-skies-1992.md" and "72 hours" in a.citations[0].quote


def test_a_terse_query_the_dense_search_misreads_is_answered_from_bm25s_best_passage(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # "leave" is not the treaty's "withdraw": the dense search ranks the withdrawal article far down,
    # the model finds nothing in the eight passages nor in the first alone. BM25's first passage
    # is that article; read alone, it gives the notice (refused before).
    a = corpus_answerer.ask("notice needed to leave open skies treaty")
    assert not a.abstained and "six months" in a.answer.split(" — ")[0].lower()
    c = a.citations[0]
    assert c.source == "treaty-on-open-skies-1992.md" and "withdraw" in c.quote and "six months" in c.quote


def test_an_answer_that_grounds_nowhere_is_read_again_in_bm25s_best_passage(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # "OSCC" is written nowhere: the model's first answer over the eight passages stands in none of
    # them (refused before). BM25's first passage, read alone, is the Commission's article.
    a = corpus_answerer.ask("oscc uses facilities of which centre")
    assert not a.abstained and "conflict prevention centre" in a.answer.split(" — ")[0].lower()
    c = a.citations[0]
    assert c.source == "treaty-on-open-skies-1992.md" and "facilities" in c.quote


def test_a_treaty_named_by_acronym_is_answered_from_its_own_text(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # Open Skies' clause on a withdrawal ("a conference ... no less than 30 days ...") was read
    # for the CFE Treaty's notice (wrong, and grounded); only the CFE Treaty's text is shown now.
    a = corpus_answerer.ask("cfe withdrawal notice days")
    assert not a.abstained and "150" in a.answer.split(" — ")[0]
    assert a.citations[0].source == "cfe-treaty-1990.md" and "150 days" in a.citations[0].quote
    assert all(p.file_name != "treaty-on-open-skies-1992.md" for p in a.passages)


def test_a_treaty_without_its_text_is_not_read_in_the_treaties_there_are(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    # The corpus names "the INF Treaty" (statutes, news) but holds no text of it: a treaty text's
    # own entry into force ("10 days after instruments of ratification ...") was read and refused.
    a = corpus_answerer.ask("inf treaty enter force")
    assert not a.abstained and "June 1, 1988" in a.answer.split(" — ")[0]
    assert "June 1, 1988" in a.citations[0].quote
    assert all(p.doc_type != "treaty" for p in a.passages)


def test_ask_json_is_one_object_with_the_documented_keys(
    corpus_store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings, _, _ = corpus_store
    monkeypatch.setenv("RAGQA_DATA_DIR", str(settings.store.data_dir))
    assert main(["ask", INF, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"question", "rewritten_question", "answer", "abstained", "backend", "citations", "timings_ms"} <= set(data)
    assert {"retrieve", "generate", "total"} <= set(data["timings_ms"])
    assert {"n", "source", "title", "date", "section", "quote", "start", "end", "score"} <= set(data["citations"][0])


def test_local_model_streams_its_reply_before_the_answer(corpus_answerer) -> None:  # type: ignore[no-untyped-def]
    items = list(corpus_answerer.stream("Who was Russia's top negotiator at the Geneva talks on the INF Treaty?"))
    final = items[-1]
    assert len(items) > 2 and all(isinstance(i, str) for i in items[:-1])  # tokens first, then the Answer
    assert "Ryabkov" in final.answer and final.citations[0].source == "2019-01-16-lavrov-inf.txt"
    assert "Ryabkov" in final.citations[0].quote


@pytest.mark.slow
def test_a_reply_does_not_depend_on_the_prompt_before_it(corpus_store) -> None:  # type: ignore[no-untyped-def]
    """llama.cpp reuses the previous prompt's cached prefix; evaluating the rest from another
    position changed a greedy reply (one of these six, before every chat started from its prompt's head)."""
    import prompts
    from qa.generators import complete, make_generator

    settings, store, _ = corpus_store
    gen = make_generator(settings.qa, "local", store.config.models_dir)
    assert gen is not None
    system = prompts.load("reader_system")
    docs = [p.read_text()[:1500] for p in sorted((CORPUS / "news").glob("*"))[:6]]
    chats = [
        [
            {"role": "system", "content": system},
            {"role": "user", "content": f"Passages:\n[1] {doc}\n\nQuestion: Summarise what happened, with the dates."},
        ]
        for doc in docs
    ]
    forward = [complete(gen, chat, 120) for chat in chats]
    backward = [complete(gen, chat, 120) for chat in reversed(chats)][::-1]
    assert forward == backward


def test_warm_up_leaves_the_reader_and_split_prompt_heads_cached(corpus_store) -> None:  # type: ignore[no-untyped-def]
    from qa import Answerer
    from qa.prefix import heads
    from qa.reader import asking
    from qa.rewrite import split_chat

    settings, store, _ = corpus_store
    answerer = Answerer(store, settings.qa)
    cache = heads(answerer.generator("local").llama)  # type: ignore[union-attr]
    cache.saved.clear()  # the model is shared by the session's tests: start with nothing evaluated,
    cache.current = ()  # and with no head held (a held head is reused, not saved again)
    answerer.warm_up(INF)
    assert cache.head(split_chat("cfe signed where and when")) in cache.saved
    assert cache.head(asking(_icbm_chat(), "Who spoke?")) in cache.saved


def _icbm_chat() -> list[dict[str, str]]:
    """The reader's chat over one real news article, asking a yes/no question."""
    import prompts

    doc = (CORPUS / "news" / "2016-02-26-us-test-fires-icbm.txt").read_text()[:1200]
    return [
        {"role": "system", "content": prompts.load("reader_system")},
        {"role": "user", "content": f"Passages:\n[1] {doc}\n\nQuestion: Did the US test-fire a Minuteman III missile?"},
    ]


def test_the_models_lean_to_yes_is_read_from_the_chat_it_just_answered(corpus_store) -> None:  # type: ignore[no-untyped-def]
    """The lean is read from llama.cpp's cache of the chat just answered (the question's tokens
    only are evaluated again): it must be the lean of a fresh evaluation, and agree with the reply."""
    from qa.generators import YesNoScorer, complete, make_generator
    from qa.reader import asking

    settings, store, _ = corpus_store
    gen = make_generator(settings.qa, "local", store.config.models_dir)
    assert gen is not None and isinstance(gen, YesNoScorer)
    chat = _icbm_chat()
    other = asking(chat, "Did the missile carry a warhead?")
    reply = complete(gen, chat, 8)
    cached = gen.yes_no_margin(chat), gen.yes_no_margin(other)  # right after the chat: its cache reused
    elsewhere = (CORPUS / "news" / "2019-01-16-lavrov-inf.txt").read_text()[:1200]
    complete(gen, [chat[0], {"role": "user", "content": f"Passages:\n[1] {elsewhere}\n\nQuestion: Who spoke?"}], 8)
    fresh = gen.yes_no_margin(chat), gen.yes_no_margin(other)
    assert reply.startswith("Yes") and cached[0] > 0
    assert cached == pytest.approx(fresh, abs=0.05)


def test_a_chat_put_aside_leaves_the_chat_just_read_cached(corpus_store) -> None:  # type: ignore[no-untyped-def]
    """The opposite question is written between the read and its margin: inside `aside` the
    model runs another chat, and after it the margin is read from the same cache as before."""
    from qa.generators import YesNoScorer, complete, make_generator
    from qa.reader import asking

    settings, store, _ = corpus_store
    gen = make_generator(settings.qa, "local", store.config.models_dir)
    assert gen is not None and isinstance(gen, YesNoScorer)
    chat = _icbm_chat()
    other = asking(chat, "Did the US not test-fire a Minuteman III missile?")
    complete(gen, chat, 8)
    held = list(gen.llama.input_ids[: gen.llama.n_tokens])  # type: ignore[attr-defined]
    direct = gen.yes_no_margin(other)
    complete(gen, chat, 8)
    with gen.aside():
        written = complete(gen, [{"role": "user", "content": "Write one short question about missiles."}], 24)
    assert written and list(gen.llama.input_ids[: gen.llama.n_tokens]) == held  # type: ignore[attr-defined]
    assert gen.yes_no_margin(other) == pytest.approx(direct, abs=1e-3)  # the same cache, the same sums


@pytest.fixture(scope="module")
def qwen_server(model_cache) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with llama_server(model_cache, "--model_alias", SERVER_MODEL, "--n_ctx", "4096") as url:
        yield url


@pytest.mark.slow
def test_openai_backend_against_a_real_llama_cpp_server(corpus_store, qwen_server: str) -> None:  # type: ignore[no-untyped-def]
    from qa import Answerer

    settings, store, _ = corpus_store
    cfg = settings.qa.model_copy(update={"openai_base_url": qwen_server, "openai_model": SERVER_MODEL})
    a = Answerer(store, cfg).ask(INF, backend="openai")
    assert a.backend == "openai" and "February 2" in a.answer
    assert a.citations and a.citations[0].source == "2019-01-16-lavrov-inf.txt"


@pytest.mark.slow
def test_a_llama_cpp_server_reports_the_local_models_lean_to_yes(corpus_store, qwen_server: str) -> None:  # type: ignore[no-untyped-def]
    """The remote path weighs a yes/no as the local one does: the server's first-token
    log-probabilities give the margins of the same model run in-process."""
    from qa.generators import OpenAIGenerator, make_generator
    from qa.reader import asking
    from qa.yesno import CONTENT_FREE

    settings, store, _ = corpus_store
    local = make_generator(settings.qa, "local", store.config.models_dir)
    cfg = settings.qa.model_copy(update={"openai_base_url": qwen_server, "openai_model": SERVER_MODEL})
    remote = OpenAIGenerator(cfg)
    chats = [_icbm_chat(), asking(_icbm_chat(), "Did the missile carry a warhead?"), asking(_icbm_chat(), CONTENT_FREE)]
    here = [local.yes_no_margin(c) for c in chats]  # type: ignore[union-attr]
    there = [remote.yes_no_margin(c) for c in chats]
    # Each side reuses what it had cached, so the prompts are split into other batches: that moves
    # a margin by up to ~0.15 (0.10 seen after the test before), well below the gaps between these three.
    assert None not in there and there == pytest.approx(here, abs=0.2)
    down = OpenAIGenerator(cfg.model_copy(update={"openai_base_url": f"http://127.0.0.1:{free_port()}/v1"}))
    assert down.yes_no_margin(chats[0]) is None  # no server, no log-probabilities: the reply stands


@pytest.mark.slow
def test_openai_backend_down_falls_back_quickly(corpus_store) -> None:  # type: ignore[no-untyped-def]
    from qa import Answerer

    settings, store, _ = corpus_store
    cfg = settings.qa.model_copy(update={"openai_base_url": f"http://127.0.0.1:{free_port()}/v1", "llm_timeout": 5.0})
    started = time.monotonic()
    a = Answerer(store, cfg).ask(INF, backend="openai")
    assert a.fallback and "failed" in a.notice and "February 2, 2019" in a.answer
    assert time.monotonic() - started < 60  # bounded by the timeout, not a hang (generous: CI is noisy)


def _offline_prefix() -> list[str]:
    """Run in a fresh network namespace (no interfaces up, not even loopback) when the kernel
    lets us; otherwise in a process whose non-loopback socket connects are refused."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n", sys.executable, "-m", "cli"]
    guard = (
        "import socket, sys\n"
        "orig = socket.socket.connect\n"
        "def connect(self, addr):\n"
        "    host = addr[0] if isinstance(addr, tuple) else str(addr)\n"
        "    if isinstance(addr, tuple) and not (host.startswith('127.') or host in ('::1', 'localhost')):\n"
        "        raise OSError(f'network disabled in this test: {addr}')\n"
        "    return orig(self, addr)\n"
        "socket.socket.connect = connect\n"
        "from cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return [sys.executable, "-c", guard]


def test_no_network_needed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """ingest and ask with networking disabled for the process."""
    from tests.conftest import CORPUS, ROOT

    env = {**os.environ, "RAGQA_DATA_DIR": str(tmp_path / "offline")}
    offline = _offline_prefix()
    ing = subprocess.run(
        [*offline, "ingest", str(CORPUS / "news"), "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ing.returncode == 0, ing.stderr[-800:]
    assert json.loads(ing.stdout)["files_ingested"] == 9
    ask = subprocess.run(
        [*offline, "ask", INF, "--json"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert ask.returncode == 0, ask.stderr[-800:]
    assert "February 2, 2019" in json.loads(ask.stdout)["answer"]


@pytest.mark.slow
def test_openai_embeddings_backend_against_llama_cpp_server(
    tmp_path, model_cache, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """RAGQA_EMBEDDINGS=openai: a real llama.cpp /v1/embeddings server embeds the corpus."""
    import shutil

    from tests.conftest import FIXTURES

    with llama_server(model_cache, "--model_alias", "qwen-emb", "--embedding", "true", "--n_ctx", "1024") as url:
        corpus = tmp_path / "c"
        corpus.mkdir()
        shutil.copy(FIXTURES / "treaty.md", corpus)
        shutil.copy(FIXTURES / "news.txt", corpus)
        monkeypatch.setenv("RAGQA_EMBEDDINGS", "openai")
        monkeypatch.setenv("RAGQA_EMBEDDINGS_BASE_URL", url)
        monkeypatch.setenv("RAGQA_EMBEDDING_MODEL", "qwen-emb")
        assert main(["ingest", str(corpus), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["files_ingested"] == 2
        assert main(["stats", "--json"]) == 0
        stats = json.loads(capsys.readouterr().out)
        assert stats["embedding_model"] == "openai:qwen-emb" and stats["embedding_dim"] > 100
        assert main(["search", "withdraw from the treaty with notice to the Depositary", "--json", "-k", "2"]) == 0
        assert json.loads(capsys.readouterr().out)[0]["file_name"] == "treaty.md"
