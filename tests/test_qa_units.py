"""Fast unit tests of the answer layer's parts (no model)."""

from __future__ import annotations

import pytest

from qa.dates import find_dates, parse_date, resolve_relative, words_to_number
from qa.grounding import fact_tokens, ground, in_title
from qa.question import analyze, split_parts
from qa.retrieval import LexicalIndex
from qa.rewrite import asked_again_of, keeps_subject, needs_rewrite, rule_rewrite, split_question
from qa.search import narrowed
from qa.text import tokens
from qa.types import Filters, Passage


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
        # the question word in front decides, not a "when" clause later on
        ("Who was foreign minister when the pact was signed?", "person"),
        ("How many members did the pact have when it entered into force?", "number"),
        ("Where and when was the pact signed?", "date"),
        ("Which South Korean president signed it?", "person"),
        ("What is the range of the new rocket?", "number"),
        ("What does ZBRA stand for?", "define"),
        ("What is the term zebra line under the Road Accord?", "define"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    assert analyze(question).kind == kind


def test_two_part_questions_split_only_at_question_words() -> None:
    assert split_parts("When did X enter into force, and by what date did Y want it done?") == [
        "When did X enter into force?",
        "by what date did Y want it done?",
    ]
    assert split_parts("Which five countries, China and France among them, issued it?") == [
        "Which five countries, China and France among them, issued it?"
    ]


def test_the_models_split_is_kept_only_when_it_asks_the_typed_words_twice_or_three_times() -> None:
    def model(reply: str):  # type: ignore[no-untyped-def]
        return lambda _question: reply

    q = "cfe treaty duration and withdrawal notice"
    # Kept, each word in the case it was typed (the model wrote "CFE").
    assert split_question(q, model("CFE treaty duration?\nCFE treaty withdrawal notice")) == [
        "cfe treaty duration?",
        "cfe treaty withdrawal notice?",
    ]
    assert split_question(q, model(q)) == [q]  # written back whole: one question
    assert split_question(q, model("cfe treaty duration?\nWhat is the first review of Confucius?")) == [q]
    assert split_question(q, model("cfe treaty duration?\ncfe treaty duration?")) == [q]
    assert split_question(q, model("cfe?\ntreaty?\nduration?\nnotice?")) == [q]  # four: not two questions

    def fails(_question: str) -> str:
        raise TimeoutError("server gone")

    assert split_question(q, fails) == [q]  # a failed split does not fail the answer


def test_a_question_the_model_writes_back_whole_is_not_read_to_its_end() -> None:
    q = "How many launchers and heavy bombers does New START allow?"
    read: list[str] = []

    def stream(_question: str):  # type: ignore[no-untyped-def]
        for word in f"{q}\n{q}".split(" "):  # as a model writes, word by word
            read.append(word)
            yield word + " "

    assert split_question(q, stream) == [q]
    assert read == q.split()[:5]  # stopped at "heavy", the first word copied past "and"
    # A first question that ends before the joining word is read on: the split stands.
    two = "cfe treaty duration and withdrawal notice"
    assert split_question(two, lambda _q: iter(["cfe treaty ", "duration?\n", "cfe treaty withdrawal notice"])) == [
        "cfe treaty duration?",
        "cfe treaty withdrawal notice?",
    ]


def test_two_questions_typed_in_one_split_at_question_marks_and_semicolons() -> None:
    assert split_parts("CFE treaty signed where; limited in duration?") == [
        "CFE treaty signed where?",
        "limited in duration?",
    ]
    # A part keeps the case it was typed in: the model reads "Open skies treaty signed where?"
    # otherwise than "open skies treaty signed where?".
    assert split_parts("open skies treaty signed where? in force since when") == [
        "open skies treaty signed where?",
        "in force since when?",
    ]
    # A topic before a colon belongs to every part.
    assert split_parts("icbm test 2016: launch site? target area?") == [
        "icbm test 2016 launch site?",
        "icbm test 2016 target area?",
    ]
    # One question stays one, colon or not.
    assert split_parts("According to the note: what is the date?") == ["According to the note: what is the date?"]
    assert split_parts("inf exit date?") == ["inf exit date?"]


def test_follow_up_is_rewritten_with_the_previous_entity() -> None:
    history = [("Who are the depositaries of the NPT?", "…")]
    assert rule_rewrite("and when did it enter into force?", history) == "When did the NPT enter into force?"
    assert rule_rewrite("When did the NPT enter into force?", history) == "When did the NPT enter into force?"
    assert rule_rewrite(
        "and how can a state withdraw from it?", [("What does the Treaty on Open Skies say about quotas?", "")]
    ) == ("How can a state withdraw from the Treaty on Open Skies?")
    # A pronoun whose noun is in the question itself is not a follow-up.
    own = "Are the five member states' ships armed according to their 2022 statement?"
    assert rule_rewrite(own, history) == own
    # A short question that names its own subject is a new question ("(NPT)" was appended to it).
    assert rule_rewrite("DPRK warhead count", history) == "DPRK warhead count"
    assert rule_rewrite("when?", history) == "When (NPT)?"
    # "what about …?" asks the last question again, of its new subject (it was "The CFE Treaty (NPT)?").
    notice = [("how much notice to withdraw from the NPT?", "3 months [1]")]
    assert rule_rewrite("what about the CFE Treaty?", notice) == "How much notice to withdraw from the CFE Treaty?"
    # So does a follow-up made of a name alone, however it is led in; it was "For the CFE (Open Skies)?",
    # a question with nothing to ask, answered "2002" with full support.
    exit_notice = [("Open Skies treaty exit notice", "The documents don't say.")]
    assert rule_rewrite("and for the CFE?", exit_notice) == "CFE treaty exit notice"
    # The name's own word "treaty" is not said twice ("The CFE treaty treaty exit notice").
    assert rule_rewrite("what about the CFE treaty?", exit_notice) == "The CFE treaty exit notice"
    assert asked_again_of("and who signed it?") == ""  # it asks a thing of its own
    # The last question named nothing to put the new one in place of: it is asked of the new one
    # (it was "For the CFE (NPT)?", the subject of the turn before, a question with nothing to ask).
    notified = [*notice, ("who must be notified", "the Security Council [1]")]
    assert rule_rewrite("and for the CFE?", notified) == "Who must be notified (CFE)?"
    # "she" is the person the last answer named, not the last question's subject ("the US").
    final = [("who won the US Open 2021", "Ann Lee [1] — “Ann Lee won the final.”")]
    assert rule_rewrite("who did she beat in the final", final) == "Who did Ann Lee beat in the final"


def test_he_or_she_before_any_name_leans_on_the_conversation() -> None:
    # "he" is a person; New START, named after it, is what he spoke of (it was taken for a new question).
    assert needs_rewrite("what did he say about New START")
    assert not needs_rewrite("did Putin say he would renew New START")  # its person is named first
    assert not needs_rewrite("is it true that the NPT bans tests")  # "it" may come before what it is


def test_a_follow_up_is_searched_first_in_the_files_the_last_answer_cited() -> None:
    history = [("When did the US leave the Treaty on Widgets?", "February 2, 2019 [1]")]
    first = narrowed("who announced it?", history, ["a.txt", "a.txt", "b.txt"], None)
    assert first is not None and first.sources == ["a.txt", "b.txt"]
    assert narrowed("who announced it?", [], ["a.txt"], None) is None  # no conversation to lean on
    assert narrowed("What about the Treaty on Widgets?", history, ["a.txt"], None) is None  # names its own subject
    assert narrowed("who announced it?", history, ["a.txt"], Filters(sources=["c.txt"])) is None  # the user chose


def test_grounding_finds_the_sentence_holding_the_answer_and_refuses_invented_facts() -> None:
    passages = [
        P("It entered into force June 1, 1988. Other text follows here."),
        P("Talks failed. Russians said Americans confirmed the exit from February 2. Nothing else.", "2019-01-16"),
    ]
    g = ground("Feb. 2, 2019", "When was the US exit date?", passages)
    assert g is not None and g.passage == 1 and g.quote == "Russians said Americans confirmed the exit from February 2."
    assert passages[1].text[g.start - passages[1].start : g.end - passages[1].start] == g.quote
    assert ground("March 3, 2019", "When was the US exit date?", passages) is None
    g = ground(
        "June 1, 1988", "When did it enter into force?", passages, preferred=[1]
    )  # the model named the wrong one
    assert g is not None and g.passage == 0


@pytest.mark.parametrize(
    ("answer", "passage"),
    [
        ("sixty days", "The Treaty enters into force 60 days after the deposit."),
        ("60 days", "The Treaty enters into force sixty days after the deposit."),
        ("1500 flights", "More than 1,500 flights have taken place."),
        ("2nd of February", "The exit takes effect on February 2."),
        ("the U.S. and Russia", "The US and Russia agreed."),
        ("2017-03-03", "The game will release on March 3, 2017, with the console."),  # a header's ISO date
        ("Tadej Pogacar", "Tadej Pogačar won the race."),  # accents as people type them, both ways
        ("José Ramírez", "Jose Ramirez signed the deal."),
        ("20%", "It may not cut the stockpile by more than 20 percent."),
        ("50 percent", "No more than 50 per cent of its quota."),
    ],
)
def test_facts_compare_after_normalisation(answer: str, passage: str) -> None:
    assert ground(answer, "What?", [P(passage)]) is not None


def test_a_share_is_not_grounded_by_the_bare_number() -> None:
    # "how much could us cut deployed warheads per obama" was answered "30%" from "… over 30 years".
    assert ground("30%", "How much of a cut?", [P("It may cost up to 1 trillion dollars over 30 years.")]) is None


def test_an_iso_date_is_shown_as_people_write_it_and_no_other_date_grounds_it() -> None:
    from qa.grounding import as_written

    assert as_written("2017-03-03", "It will release on March 3, 2017, with the console.") == "March 3, 2017"
    assert ground("2017-03-04", "When?", [P("The game will release on March 3, 2017, with the console.")]) is None


def test_a_snippets_own_date_line_is_no_quote_for_a_date_answer() -> None:
    snippet = P("Nov 14, 2022 ... The festival's final night airs on Sunday.", "2022-11-14")
    assert ground("Nov 14, 2022", "When did the festival open?", [snippet]) is None
    # The same date stated as an event is evidence; a date line of another day is text like any other.
    opened = P("Nov 14, 2022 ... The festival opened on November 14, 2022.", "2022-11-14")
    g = ground("Nov 14, 2022", "When did the festival open?", [opened])
    assert g is not None and g.quote == "The festival opened on November 14, 2022."
    other = P("Nov 14, 2022 ... The festival's final night airs on Sunday.", "2022-11-20")
    assert ground("Nov 14, 2022", "When did the festival open?", [other]) is not None


def test_a_pages_month_completes_no_day_its_sentence_dates_in_another_month() -> None:
    snippet = P(
        "Sep 14, 2022 ... The tour's first leg began in August 2021, and its second leg on February 20, 2022.",
        "2022-09-14",
    )
    assert ground("Sep 20, 2022", "tour second leg start date", [snippet]) is None  # "Sep" is the page's
    assert ground("February 20, 2022", "tour second leg start date", [snippet]) is not None
    # A sentence that names no month of its own still takes its page's month and year.
    vote = P("Sep 14, 2022 ... The vote on the second leg is set for the 20th.", "2022-09-14")
    assert ground("Sep 20, 2022", "tour second leg vote date", [vote]) is not None


def test_the_passage_that_states_the_answer_whole_is_cited() -> None:
    # Both hold the facts; the first only with its page's year and shares one more question word.
    passages = [
        P("The festival's fourth season premieres Nov. 15 on the main stage.", "2020-11-12"),
        P("The fourth season of the festival opened on 15 November 2020.", "2020-12-01"),
    ]
    g = ground("Nov 15, 2020", "When does season 4 of the festival premiere?", passages, preferred=[0])
    assert g is not None and g.passage == 1
    # Facts spread over a sentence are no phrase; the passage that states the date is cited.
    spread = [
        P("At its 2019 event the iPhone maker said the phone was released on September 20th."),
        P("The phone, released on September 20, 2019, is now old."),
    ]
    g = ground("Sep 20, 2019", "When was the phone released?", spread)
    assert g is not None and g.passage == 1


def test_facts_the_question_already_gives_are_not_required() -> None:
    assert fact_tokens("Maria Lindqvist won the Baltic Open", "Who won the Baltic Open?") == ["maria", "lindqvist"]


def test_the_choice_a_question_offers_is_a_fact_to_ground() -> None:
    """'nuclear or conventional': the answer is one of the question's own words, so it is not
    taken as supplied; it must stand in a passage like any fact, and only where it does."""
    question = "ferry engines diesel or electric"
    assert fact_tokens("electric", question) == tokens("electric")
    assert fact_tokens("ferry engines", question) == []  # words the question gives stay given
    passages = [
        P("The harbour board met on Monday."),
        P("The new ferry runs on electric engines charged at the pier."),
    ]
    g = ground("electric", question, passages)
    assert g is not None and g.passage == 1 and "electric engines" in g.quote
    assert ground("diesel", question, passages) is None  # the other choice stands nowhere


def test_rewrite_check_keeps_the_conversations_subject() -> None:
    history = [("When did the US exit the INF treaty?", "February 2, 2019 [1]")]
    assert keeps_subject("Who announced the US exit from the INF treaty?", "who announced it?", history)
    assert not keeps_subject("Who announced the Open Skies Treaty?", "who announced it?", history)  # new subject
    assert not keeps_subject("Who announced the US exit?", "who announced it on Monday?", history)  # drops a word
    terse = [("INF exit date?", "February 2, 2019 [1]")]
    assert not keeps_subject("Who announced the exit date?", "who announced it?", terse)  # drops the subject
    assert keeps_subject("Who announced the INF exit date?", "who announced it?", terse)
    # A bare "where?" asks where: a rewrite that asks what the last turn was about drops it.
    speech = [("when was that speech", "June 2, 2023 [1]")]
    assert not keeps_subject("What was the speech about?", "where?", speech)
    assert keeps_subject("Where was that speech?", "where?", speech)
    # "she" is the last answer, not the last question's US Open; "him" is replaced, not kept.
    final = [("who won the women's singles US Open 2021", "Ann Lee [1] — “Ann Lee won the US Open.”")]
    assert keeps_subject("How old was Ann Lee?", "how old was she", final)
    assert not keeps_subject("How old was she in 2021?", "how old was she", final)  # names neither
    ceo = [("who is the CEO of Acme", "Bob Stone [1]")]
    assert keeps_subject("Who was the CEO before Bob Stone?", "who was before him", ceo)


def test_tokens_treat_abbreviations_and_hyphens_like_their_spelled_forms() -> None:
    assert tokens("the U.S. position") == tokens("the US position")
    assert set(tokens("test fired")) <= set(tokens("test-fired"))
    assert set(tokens("US-Russia talks")) >= {"us", "russia"}
    # Dotted inside a hyphenated word or before a possessive, as titles write it ("U.S.-Russia … Statement").
    assert tokens("U.S.-Russia Joint Statement") == tokens("us-russia joint statement")
    assert tokens("the U.S.'s position") == tokens("the US position")


def test_tokens_fold_accents_and_keep_letters_of_any_script() -> None:
    assert tokens("when did the cafe open") == tokens("When did the café open?")
    assert tokens("Pogačar") == ["pogacar"]
    # A letter with no accent to fold is still a letter, not a word break ("straße" was "stra" + "e").
    assert tokens("Straße") == ["straße"]
    assert tokens("Świątek") == tokens("swiatek")


def test_an_answer_typed_without_accents_is_shown_in_the_texts_letters() -> None:
    from qa.grounding import as_written

    assert as_written("tadej pogacar", "Tadej Pogačar won the race.") == "Tadej Pogačar"
    assert as_written("Ramirez", "José Ramírez signed.") == "Ramírez"


def test_a_quote_never_holds_a_markdown_heading_line() -> None:
    from qa.grounding import ground
    from qa.text import sentences

    text = (
        "# Title 5— PARKS\n### CHAPTER 9— WATER\n#### § 12. Duty of the keeper of the county reservoir\n"
        "###### (a) In General .\n\nThe keeper shall report the water level every 30 days.\n"
        "##### (b) Form\n###Annex A\nThe report is public. Fans wrote #SaveTheLake online."
    )
    found = sentences(text, offset=100, headings=False)
    assert [t for _, _, t in found] == [
        "The keeper shall report the water level every 30 days.",
        "The report is public.",
        "Fans wrote #SaveTheLake online.",  # a hashtag is no heading
    ]
    assert all(text[s - 100 : e - 100] == t for s, e, t in found)  # offsets still point at the source
    # A fact that only the heading states is not grounded; one the text states is quoted without marks.
    assert ground("the county reservoir", "whose duty is it?", [P(text)]) is None
    g = ground("every 30 days", "how often is the level reported?", [P(text)])
    assert g is not None and g.quote == "The keeper shall report the water level every 30 days."


def test_related_verbs_share_a_family_and_nothing_else() -> None:
    from qa.text import related, stem

    assert stem("exit") in related(stem("leave")) and stem("withdraw") in related(stem("leave"))
    assert stem("sign") not in related(stem("leave"))
    assert related("zzzq") == {"zzzq"}


def test_relation_words_leave_out_dates_and_source_words() -> None:
    info = analyze("How many members does the pact have according to the 2020 article in March?")
    assert set(info.relation) == {"member", "pact"}


def _reader_candidates(question: str, text: str, date: str = ""):  # type: ignore[no-untyped-def]
    from qa.extractive import ExtractiveReader
    from qa.vectors import SentenceVectors
    from vectorstore import ChunkMeta, FakeEmbedder

    shared = dict(
        source="road.md",
        file_name="road.md",
        title="Road Accord",
        doc_type="treaty",
        date=date,
        section="Road Accord",
        start=0,
        end=len(text),
    )
    meta = ChunkMeta(doc_id="d1", chunk_index=0, content_hash="h", **shared)
    index = LexicalIndex.build([("d1-h-0", text, meta)])
    passage = Passage(id="d1-h-0", text=text, score=1.0, **shared)
    return ExtractiveReader(SentenceVectors(FakeEmbedder()), index).candidates(analyze(question), [passage])


def test_definitions_are_lifted_from_the_defining_sentence() -> None:
    text = (
        'Drivers shall stop at every zebra line. The term "zebra line" means a crossing painted in white stripes. '
        "The Zebra Line Authority (ZLA) keeps the register."
    )
    assert (
        _reader_candidates("What is a zebra line under the Road Accord?", text)[0].span
        == "a crossing painted in white stripes"
    )
    assert _reader_candidates("What does ZLA stand for?", text)[0].span == "The Zebra Line Authority"


def test_an_answer_opening_the_next_sentence_is_found() -> None:
    text = "IN WITNESS WHEREOF the undersigned have signed this Accord. DONE at the cities of Lisbon and Porto, the fifth day of May."
    best = _reader_candidates("Where was the Road Accord signed?", text)[0]
    assert best.span == "Lisbon and Porto" and "signed" in best.text


def test_titles_of_documents_are_not_people() -> None:
    text = "The Treaty on Open Roads was signed with the Declaration for Peaceful Purposes by Minister Anna Berg."
    spans = [c.span for c in _reader_candidates("Who signed the Treaty on Open Roads?", text)]
    assert spans[0] == "Minister Anna Berg"


def _lexical_index(texts: list[str], titles: list[str]) -> LexicalIndex:
    from vectorstore import ChunkMeta

    metas = [
        ChunkMeta(
            doc_id=f"d{i}",
            source=f"{i}.md",
            file_name=f"{i}.md",
            title=title,
            doc_type="treaty",
            section=title,
            start=0,
            end=len(text),
            content_hash="h",
            chunk_index=0,
        )
        for i, (text, title) in enumerate(zip(texts, titles, strict=True))
    ]
    return LexicalIndex.build(list(zip([f"c{i}" for i in range(len(texts))], texts, metas, strict=True)))


def test_lower_case_acronyms_are_restored_only_when_the_texts_never_write_them_small() -> None:
    texts = [
        "The ZNT binds its parties. Talks restart in MAY; they may start soon.",
        "The Rhine Barge code. OSLO: Oslo.",
    ]
    index = _lexical_index(texts, ["Zebra Non-crossing Treaty", "Rhine Barge Protocol"])
    assert index.restore_case("flights to oslo") == "flights to oslo"  # a name, once in a list in capitals
    assert index.restore_case("who are the znt parties?") == "who are the ZNT parties?"
    assert index.restore_case("when may talks start?") == "when may talks start?"  # 'may' is also a word there
    assert index.restore_case("what does the rbp say?") == "what does the RBP say?"  # abbreviates a title


def test_an_acronym_spells_nearly_consecutive_initials_of_a_title() -> None:
    titles = [
        "Treaty on Conventional Armed Forces in Europe",
        "President Lee Statement Ahead of the Fifth Review Conference",
    ]
    index = _lexical_index(["Tanks are limited.", "China builds warheads."], titles)
    assert index.acronym_titles("CFE notice") == {"CFE": ["d0"]}  # one word ("Armed") skipped
    # P…R…C are initials of the statement's title too, three words apart: no acronym of it.
    assert index.acronym_titles("PRC warheads") == {}
    assert index.restore_case("prc warheads") == "prc warheads"


def test_an_answer_read_where_the_questions_acronym_is_not_named_has_no_support() -> None:
    from qa.abstention import support

    texts = [
        "By 2035 the PRC may have 1,500 warheads, and the DPRK tests missiles.",
        "The On-Site Inspection Agency inspected sites in Russia. OSIA was set up in 1988.",
    ]
    index = _lexical_index(texts, ["Speech", "Findings"])
    prc = P("By 2035 the PRC may have 1,500 warheads.", title="Speech")
    assert support("PRC warheads by 2035", prc, index, fact=True) == 1.0
    # Most of the question's words are there, its most specific one is not: the PRC's count is no answer.
    assert support("DPRK warheads by 2035", prc, index, fact=True) == 0.0
    assert support("DPRK warheads by 2035", prc, index) > 0.5  # a yes/no verdict's closest sentence
    spelled = P("The On-Site Inspection Agency inspected sites in Russia.", title="Findings")
    assert support("OSIA inspection sites", spelled, index, fact=True) > 0.5  # spelled out


def test_a_word_the_documents_write_small_is_not_taken_for_the_initials_of_a_title() -> None:
    titles = ["Treaty on Conventional Armed Forces in Europe", "Harbour notes"]
    texts = ["Tanks are limited.", "The café on the quay opened in 1999, when the CfE talks began."]
    index = _lexical_index(texts, titles)
    assert index.restore_case("when did the cafe open") == "when did the cafe open"  # C-A-F-E: not CFE's
    assert index.restore_case("cfe tank limits") == "CFE tank limits"  # only ever written with capitals


def test_a_word_of_the_language_is_not_taken_for_the_initials_of_a_title() -> None:
    """Over documents that never mention a café (the shared corpus), 'cafe' was read as CAFE and
    searched as the CFE Treaty; a word MiniLM knows whole is that word. 'cfe' is no word."""
    index = _lexical_index(
        ["Tanks are limited.", "Barges are counted."],
        ["Treaty on Conventional Armed Forces in Europe", "Road Accord Protocol"],
    )
    assert index.restore_case("when did the cafe open") == "when did the cafe open"
    assert index.restore_case("what does the rap say?") == "what does the rap say?"  # R-A-P: a word
    assert index.restore_case("cfe tank limits") == "CFE tank limits"  # the title's initials


def test_a_closed_word_takes_the_hyphen_the_documents_write() -> None:
    """Tokens split "infra-red" in two, so "infrared" typed closed matched no word of the text:
    search, grounding and support all missed it ("onsite inspection agency set up year" was
    refused at support 0.378 over the shared corpus)."""
    texts = [
        "The infra-red line-scanning device has a ground resolution of 50 centimetres.",
        "The On-Site Inspection Agency was set up in 1988. F-35 aircraft carry gravity bombs.",
        "Missiles were test fired twice. The nonproliferation regime rests on the Non-Proliferation Treaty.",
    ]
    index = _lexical_index(texts, ["Sensors", "Findings", "Regime"])
    assert index.as_written("infrared device resolution") == "infra-red device resolution"
    assert set(tokens(index.as_written("infrared device"))) <= set(tokens(texts[0]))
    assert index.as_written("onsite agency set up when") == "on-site agency set up when"  # "on": a stop word
    assert index.as_written("F35 bombs") == "F-35 bombs"  # the letters as typed
    assert index.as_written("nonproliferation regime") == "nonproliferation regime"  # written closed too
    assert index.as_written("missiles testfired") == "missiles testfired"  # written apart, not hyphenated
    assert index.as_written("when it became law") == "when it became law"


def test_names_a_title_writes_are_restored_where_the_text_writes_them_too() -> None:
    index = _lexical_index(
        ["Putin wants to renew New Start soon.", "Tesla shares soared after the earnings call."],
        ["Putin wants to renew the New Start treaty", "Tesla Shares Soar After Earnings"],
    )
    assert index.restore_names("new start expiry") == "New Start expiry"
    assert index.restore_names("when does the new start end?") == "when does the New Start end?"
    assert index.restore_names("tesla shares after earnings") == "tesla shares after earnings"  # a headline's case
    assert index.restore_names("New START expiry") == "New START expiry"  # typed with capitals: as typed


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("Are the planes allowed to carry weapons?", "The plane is not equipped to carry weapons.", "No"),
        (
            "Must the planes be unarmed?",
            'The term "unarmed" means that the plane is not equipped to carry weapons.',
            "Yes",
        ),
        (
            "Did the city show great interest in the plan?",
            "The city has so far shown little interest in the plan.",
            "No",
        ),
        ("Did the city show interest in the plan?", "The city showed a little interest in the plan.", "Yes"),
        ("Is the pact limited in duration?", "This pact shall be of unlimited duration.", "No"),
        ("Did the city admit breaking the rule?", "The city denies it has broken the rule.", "No"),
        ("Are the depots open to visitors?", "We confirm that none of the depots are open to visitors.", "No"),
        (
            "Has the council agreed to formal budget talks?",
            "The council has thus far opted not to come to the table for formal budget talks.",
            "No",
        ),
    ],
)
def test_yes_no_follows_the_polarity_of_what_was_asked(question: str, sentence: str, expected: str) -> None:
    from qa.spans import yes_or_no

    assert yes_or_no(question, sentence) == expected


def test_a_titled_name_is_taken_whole() -> None:
    from qa.spans import spans

    sent = "Russian Foreign Minister Sergei Lavrov said Wednesday that talks had failed."
    names = [s[0] for s in spans(analyze("Who is the Russian foreign minister?"), sent, "")]
    assert names[0].endswith("Sergei Lavrov")


def test_a_date_for_another_event_gets_less_support() -> None:
    text = "The Road Accord was signed at Lisbon on May 5, 2020."
    signed = _reader_candidates("When was the Road Accord signed?", text)[0]
    ratified = _reader_candidates("When was the Road Accord ratified?", text)[0]
    assert signed.span == ratified.span == "May 5, 2020"
    assert ratified.support < signed.support * 0.8


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        (
            "How much did the plan add to spending?",
            "The plan calls for a $2.4 billion rise in spending.",
            "$2.4 billion",
        ),
        ("How much will the bridge cost?", "Builders said the bridge will cost €35 million.", "€35 million"),
        ("How many boats does the fleet have?", "The fleet now has 1,200 boats.", "1,200"),
    ],
)
def test_amounts_keep_their_currency_and_scale(question: str, sentence: str, expected: str) -> None:
    from qa.spans import best_span

    assert best_span(analyze(question), sentence, "")[0].startswith(expected)


def test_a_question_for_several_people_gets_the_list() -> None:
    from qa.spans import best_span

    sent = "The pact was signed by the leaders of the time, the Danish Karen Holm and the Swedish Erik Lund."
    assert best_span(analyze("Which two leaders signed the pact?"), sent, "")[0].endswith(
        "Karen Holm and the Swedish Erik Lund"
    )
    assert "Erik Lund" not in best_span(analyze("Which leader signed the pact first?"), sent, "")[0]


def test_a_name_in_apposition_to_a_title_is_the_person() -> None:
    from qa.spans import best_span

    sent = "The talks could collapse, said former Assistant Secretary of Harbour Control, Mara Voss."
    assert best_span(analyze("Who warned that the talks could collapse?"), sent, "")[0] == "Mara Voss"


def test_a_list_item_is_read_with_its_lead_in_and_the_counted_thing() -> None:
    text = (
        "Each party shall reduce its trucks, boats and cranes so that, 30 months after the Accord enters into "
        "force, the numbers held by that party do not exceed:\n\n(A)4,100 trucks;\n\n(B)2,250 cargo boats; and\n\n"
        "(C)900 cranes."
    )
    best = _reader_candidates("What is the maximum number of cargo boats a party may hold under the Road Accord?", text)
    assert best[0].span == "2,250"  # not "30 months" from the lead-in, nor another item of the list
    assert analyze("What is the total number of cargo boats allowed?").unit == ["cargo", "boat"]


def test_a_cited_section_number_is_a_name_but_other_numbers_are_not() -> None:
    assert "8929" in analyze("Which treaty does 22 U.S.C. 8929 say Russia is violating?").entities
    assert "494" in analyze("What does section 494 require?").entities
    assert "1990" not in analyze("How many states signed the treaty in 1990?").entities


@pytest.mark.parametrize(
    ("answer", "quote", "doc_date", "expected"),
    [
        ("2017", "It came out on December 1, 2017 in Japan.", "", "December 1, 2017"),
        ("2015", "OpenAI was founded in December 2015 by a group.", "", "December 2015"),
        ("from February 2", "They exit the treaty from February 2.", "2019-01-16", "from February 2, 2019"),
        ("2020", "In early 2020, the remaster was released.", "", "2020"),
        ("May 2021", "They met on June 16, 2021.", "", "May 2021"),  # another month: not this date
        # A treaty dates itself in words: its year is the digits' year all the same.
        (
            "Oslo, 1990",
            "DONE at Oslo, this ninth day of May one thousand nine hundred and ninety.",
            "",
            "Oslo, 9 May 1990",
        ),
        ("May 1990", "DONE this ninth day of May one thousand nine hundred and ninety.", "", "9 May 1990"),
        ("June 1990", "DONE this ninth day of May one thousand nine hundred and ninety.", "", "June 1990"),
        ("1991", "DONE this ninth day of May one thousand nine hundred and ninety.", "", "1991"),
    ],
)
def test_a_date_answer_is_as_precise_as_its_evidence(answer: str, quote: str, doc_date: str, expected: str) -> None:
    from qa.grounding import complete_date

    assert complete_date(answer, quote, doc_date) == expected


def test_an_answer_takes_the_letters_of_its_quote_only_when_it_stands_there_whole() -> None:
    from qa.grounding import as_written

    quote = "The missile blasted off from Vandenberg Air Force Base in California."
    assert as_written("VANDenberg Air Force Base", quote) == "Vandenberg Air Force Base"
    assert as_written("Vandenberg AFB", quote) == "Vandenberg AFB"  # not in the quote as written: unchanged
    assert as_written("berg", quote) == "berg"  # part of a word is no match


def test_a_header_date_answers_only_as_the_date_of_a_dated_passage() -> None:
    from qa.grounding import dated

    passages = [P("No date in this text at all. Leaders met and agreed.", "2022-01-03"), P("Undated text here.")]
    got = dated("2022-01-03", "When did the leaders agree?", passages, preferred=[1])
    assert got is not None and got[0] == "January 3, 2022" and got[1].passage == 0
    assert dated("2021-05-05", "When?", passages) is None  # no passage has that date
    assert dated("2022-01-03 in Geneva", "When?", passages) is None  # more than a date: ground it instead


def test_the_reader_names_a_treaty_by_the_acronym_the_question_uses() -> None:
    from qa.reader import Reader
    from qa.vectors import SentenceVectors
    from vectorstore.embeddings import FakeEmbedder

    title = "Treaty on Conventional Armed Forces in Europe"
    reader = Reader(SentenceVectors(FakeEmbedder()), lambda t: 1.0, lambda q: {title: "CFE"} if "CFE" in q else {})
    passage = P("Such notice shall be given at least 150 days prior.", title=title)
    asked = reader.messages("CFE withdrawal notice days", [passage], [passage.text])[1]["content"]
    assert f"[1] {title} (CFE)" in asked
    plain = reader.messages("withdrawal notice days", [passage], [passage.text])[1]["content"]
    assert "(CFE)" not in plain


def test_the_documents_table_of_a_large_store_lists_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import app
    from vectorstore import DocRecord

    class Store:
        def documents(self) -> list[DocRecord]:
            return [
                DocRecord(doc_id=f"d{i}", source=f"/c/{i}.txt", file_name=f"{i}.txt", title=f"Report {i}",
                          doc_type="news", date="2020-01-01", content_hash="h", chunks=2, chars=9)
                for i in range(5)
            ]  # fmt: skip

        def count(self) -> int:
            return 10

    monkeypatch.setattr(app, "LISTED", 3)
    html = app.documents_html(Store())  # type: ignore[arg-type]
    assert html.count("<tr><td>") == 3 and "5 documents" in html and "first 3" in html


def test_a_bare_year_takes_the_full_date_another_passage_gives_the_same_event() -> None:
    from qa.grounding import Grounding, sharpen_year

    texts = [
        "Work on the Lakeside Library began in 2019. In 2024 the Lakeside Library opened to the public.",
        "A branch library opened on June 1, 2024 in the harbour district.",
        "The Lakeside Library opened to readers on March 3, 2024, after five years of work.",
    ]
    passages = [P(t) for t in texts]
    year_quote = Grounding(0, 44, len(texts[0]), texts[0][44:])
    question = "When did the Lakeside Library open?"
    answer, where = sharpen_year("2024", question, passages, year_quote) or ("", None)
    assert answer == "March 3, 2024" and where is not None and where.passage == 2 and "March 3" in where.quote
    # The branch library's date shares fewer of the question's words than the year's own sentence.
    assert sharpen_year("2024", question, passages[:2], year_quote) is None
    assert sharpen_year("2019", "When did work on the Lakeside Library begin?", passages, year_quote) is None
    assert sharpen_year("March 2024", question, passages, year_quote) is None  # not a bare year

    def sharpened(texts: list[str]) -> tuple[str, int] | None:
        """'2024' read in the whole first text, sharpened: the answer and its passage."""
        out = sharpen_year("2024", question, [P(t) for t in texts], Grounding(0, 0, len(texts[0]), texts[0]))
        return (out[0], out[1].passage) if out else None

    # A month and year is sharper too; another sentence's bare year is not.
    month = ["The Lakeside Library was opened in 2024 by the mayor.", "The Lakeside Library opened in March 2024."]
    assert sharpened(month) == ("March 2024", 1)
    assert sharpened(month[:1]) is None
    # A search snippet names its subject and its date in separate fragments: the passage's
    # words count. Inside the quote's own passage, a date in a less related sentence does not.
    snippets = [
        "The Lakeside Library is a 2024 landmark of the harbour town.",
        "Lakeside Library. Visitor guide. Opening. March 3, 2024 ...",
    ]
    assert sharpened(snippets) == ("March 3, 2024", 1)
    assert sharpened(["The Lakeside Library is a 2024 landmark. A ferry pier was built on May 5, 2024."]) is None
    # A treaty dates itself in words.
    treaty = [
        "The Lakeside Library opened in 2024.",
        "The Lakeside Library was opened this third day of March two thousand and twenty-four.",
    ]
    assert sharpened(treaty) == ("3 March 2024", 1)


def test_a_sentence_about_another_year_does_not_answer_a_question_about_this_one() -> None:
    from qa.grounding import other_year

    quote = "Its Q1 2023 revenue was $23.3 billion, up from 2022."
    assert other_year([2021], quote)
    assert not other_year([2022], quote)  # the asked year is among those the sentence names
    assert not other_year([2021], "Revenue was $10.4 billion in the first quarter.")  # no year: the date decides
    assert not other_year([], quote)  # the question names no year
    # A statement dated in the asked year answers for that year, whatever years it names.
    assert not other_year([2021], quote, date="2021-08-01")
    assert other_year([2021], quote, date="2023-04-19")


def test_an_official_state_name_grounds_the_name_people_use() -> None:
    from qa.grounding import ground

    passages = [P("The People's Republic of China, the French Republic and the Russian Federation agreed on it.")]
    question = "Which states agreed on it?"
    where = ground("China, France and Russia", question, passages)
    assert where is not None and where.quote.startswith("The People's Republic of China")
    assert ground("China, France and Germany", question, passages) is None  # Germany is not among them


@pytest.mark.parametrize(
    ("raw", "answer", "cited"),
    [
        ("Maria Lindqvist [2].", "Maria Lindqvist", [1]),
        ("48 million litres (1)", "48 million litres", [0]),  # the marker in parentheses
        ("48 million litres (1).", "48 million litres", [0]),
        ("Section 5(1) of the Act [3]", "Section 5(1) of the Act", [2]),  # brackets decide; "(1)" is text
        ("paragraph 4 (a)", "paragraph 4 (a)", []),
        ("Article 12 (0)", "Article 12 (0)", []),  # no passage 0
        ("Barack Obama [1], Dmitry Medvedev [2]", "Barack Obama, Dmitry Medvedev", [0, 1]),  # a list keeps its comma
        ("Canada [1] and Hungary [1]", "Canada and Hungary", [0, 0]),
        ("Paris [1], [2].", "Paris", [0, 1]),
        # The header's date label copied with a title ("Statement … (2022-08-01)") is not part of the answer.
        ("10th Review Conference of the NPT (2022-08-01) [2]", "10th Review Conference of the NPT", [1]),
        ("2022-08-01 [1]", "2022-08-01", [0]),  # a date alone is the answer (grounding decides)
    ],
)
def test_the_reply_is_split_into_answer_and_the_passage_it_names(raw: str, answer: str, cited: list[int]) -> None:
    from qa.reader import parse

    reading = parse(raw)
    assert (reading.answer, reading.cited) == (answer, cited)


def test_the_note_after_the_question_is_not_part_of_the_reply() -> None:
    """Asked for the fact after a bare Yes, a small model may copy the prompt's note into its
    reply; the note is the prompt's words, never the answer's."""
    from qa.reader import parse
    from qa.yesno import NOT_YESNO

    reading = parse(f"Ground-launched missiles ({NOT_YESNO}) [1]", NOT_YESNO)
    assert (reading.answer, reading.cited) == ("Ground-launched missiles", [0])
    assert parse("Moscow [2]", NOT_YESNO).answer == "Moscow"


def test_an_answer_that_names_a_passages_section_stands_in_that_passage() -> None:
    """'Article VII': the section a passage is, which its text never repeats. It grounds where a
    passage's label writes it, quoting that passage; a bare number never grounds on a label
    (a news passage's label is a paragraph range), and a section no passage is grounds nowhere."""
    zones = "Nothing in this Charter affects the right of any group of towns to agree regional compacts."
    passages = [
        P("Each member may leave on notice.").model_copy(update={"section": "Charter of Y › Article X"}),
        P(zones, title="Charter of Y").model_copy(update={"section": "Charter of Y › Article VII"}),
        P("The council met.", title="Harbour news").model_copy(update={"section": "Harbour news › ¶ 5–9"}),
    ]
    question = "charter article on regional compacts"
    g = ground("Article VII", question, passages)
    assert g is not None and g.passage == 1 and g.quote == zones
    assert ground("Article IX", question, passages) is None
    assert ground("9", "how many members", passages) is None
    # The document's title heads every label; naming it is no section.
    assert ground("Harbour news", "who met", passages) is None


def test_a_fact_only_a_title_states_stands_there_unless_it_completes_the_questions_name() -> None:
    """'Ann Lee' for 'who spoke at the forum': the speaker is named in the title alone, which the
    reader is shown in the passage's header. A name the question gives, completed ('who
    introduced lee' -> 'Ann Lee'), is the document's subject, not an answer."""
    speech = "Thank you, Tom, for the kind words. The forum has met for sixty years."
    passages = [P("The council met at noon.", title="Harbour news"), P(speech, title="Remarks by Ann Lee at the Forum")]
    g = in_title("Ann Lee", "who spoke at the forum", passages)
    assert g is not None and g.passage == 1 and g.quote == "The forum has met for sixty years."
    assert ground("Ann Lee", "who spoke at the forum", passages) is None  # no sentence holds it
    assert in_title("Ann Lee", "who introduced lee", passages) is None
    assert in_title("Lee Ann", "who spoke at the forum", passages) is None  # not in a row
    assert in_title("Bob Lee", "who spoke at the forum", passages) is None


def test_a_source_cards_heading_keeps_its_line_break() -> None:
    """The heading before a quote ("### Article VII" then the marked sentence) stays on its own
    line; it was glued to the quote ("Article VIINothing in this Treaty …")."""
    import app

    shown = app._card_text("### Article  VII  \n\n")
    assert shown.startswith("<span class='heading'>Article  VII</span>") and shown.endswith("\n")
    assert "#" not in app._card_text("## Part two ##\nText.")
