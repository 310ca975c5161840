"""``psythemes themes`` end to end (with a stand-in embedding model, so it runs in seconds)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.embed import CONTEXT_PREFIX, CONTEXT_SEP, Embedder
from psythemes.outputs import write_table
from psythemes.schema import SEGMENT_COLUMNS

TOPIC_WORDS = [
    ["breathing", "shoulders", "tension", "relaxation"],
    ["headache", "doctor", "medication", "scan"],
    ["thesis", "supervisor", "exams", "deadline"],
]


class TopicModel:
    """Fake SentenceTransformer: a text's vector points at the topic whose words it uses."""

    def __init__(self):
        self.n_encoded = 0
        self.texts: list[str] = []

    def encode(self, texts, **kwargs):
        self.n_encoded += len(texts)
        self.texts.extend(texts)
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).normal(scale=0.3, size=8)
            for k, words in enumerate(TOPIC_WORDS):
                out[i, k] += 3.0 * sum(w in text.lower() for w in words)
        return out


@pytest.fixture
def fake_model(monkeypatch):
    model = TopicModel()
    monkeypatch.setattr(Embedder, "_load_model", lambda self: model)
    monkeypatch.setenv("PSYTHEMES_EMBED_BACKEND", "torch")  # the fake stands in for the torch model
    return model


@pytest.fixture
def segments_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(60):
        words = TOPIC_WORDS[k % 3]
        text = f"Um, the {rng.choice(words)} and the {rng.choice(words)}, you know, number {k}."
        doc, start = f"D{k % 4}", 100 * k
        rows.append([doc, f"{doc}:{start}-{start + len(text)}", "P", "patient" if k % 2 else "therapist",
                     start, start + len(text), text, None, None])
    path = tmp_path / "in" / "segments.csv"
    write_table(path, pd.DataFrame(rows, columns=SEGMENT_COLUMNS))
    return path


def test_themes_from_segments_csv_and_cache_reuse(segments_csv, tmp_path, fake_model, capsys):
    out = tmp_path / "out"
    args = ["themes", str(segments_csv), "--out", str(out), "--preset", "fast", "--n-themes", "3",
            "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "60 segments from 4 documents (60 distinct texts: 60 embedded, 0 from the cache)" in printed
    assert "3 themes, preset fast; outlier share 0.0%" in printed
    for name in ("themes.csv", "segment_themes.csv", "themes_by_role.csv", "figures/barchart.html",
                 "figures/intertopic.html", "themes_run.json"):
        assert (out / name).is_file(), name
    assert not (out / "segments.csv").exists()  # the input was already segmented
    themes = pd.read_csv(out / "themes.csv")
    assert sorted(themes["size"]) == [20, 20, 20]
    first = (out / "themes.csv").read_bytes()
    # the segments, then the keyword candidates of KeyBERT/MMR (kept in the same cache)
    n_first = fake_model.n_encoded
    assert n_first >= 60

    assert main(args) == 0
    assert "(60 distinct texts: 0 embedded, 60 from the cache)" in capsys.readouterr().out
    assert fake_model.n_encoded == n_first  # nothing embedded again
    assert (out / "themes.csv").read_bytes() == first


def test_map_themes_uses_the_quotes_the_themes_command_wrote(segments_csv, tmp_path, fake_model):
    from psythemes.tables import quote_texts, read_theme_quotes

    themes_dir, out = tmp_path / "themes", tmp_path / "map"
    assert main(["themes", str(segments_csv), "--out", str(themes_dir), "--preset", "fast", "--n-themes", "3",
                 "--no-cache"]) == 0
    quotes = read_theme_quotes(themes_dir / "theme_quotes.csv")
    assert quotes.groupby("theme_id")["doc_id"].nunique().tolist() == quotes.groupby("theme_id").size().tolist()
    assert main(["map", str(segments_csv), "--codebook", "psychosomatic", "--themes", str(themes_dir),
                 "--out", str(out)]) == 0
    theme_codes = pd.read_csv(out / "theme_codes.csv", keep_default_na=False)
    expected = quote_texts(pd.read_csv(themes_dir / "themes.csv"), quotes)
    # the theme -> code table shows the discoverer's quotes (as extract does), not quotes of its own
    assert {t: q.split(" | ") for t, q in zip(theme_codes["theme_id"], theme_codes["quotes"], strict=True)} == expected


def test_themes_from_transcripts_writes_segments_and_waves(demo_dir, tmp_path, fake_model, capsys):
    out = tmp_path / "out"
    rc = main(["themes", str(demo_dir / "transcripts"), "--out", str(out), "--preset", "fast",
               "--metadata", str(demo_dir / "metadata.csv"), "--no-cache", "--seed", "1"])
    assert rc == 0, capsys.readouterr().err
    segments = pd.read_csv(out / "segments.csv")
    assert list(segments.columns[: len(SEGMENT_COLUMNS)]) == SEGMENT_COLUMNS
    assert len(pd.read_csv(out / "segment_themes.csv")) == len(segments)
    waves = pd.read_csv(out / "themes_by_wave.csv")
    assert {"1", "2"} <= set(waves["wave"].astype(str))
    assert not list(tmp_path.glob("**/.psythemes-cache"))


def test_context_option_reaches_the_embedder(segments_csv, tmp_path, fake_model):
    segments = pd.read_csv(segments_csv)
    segments["speaker"] = np.where((np.arange(len(segments)) // 4) % 2, "P", "T")  # turns alternate in each doc
    segments.to_csv(segments_csv, index=False)
    rc = main(["themes", str(segments_csv), "--out", str(tmp_path / "o"), "--preset", "fast",
               "--context", "previous_turn", "--no-cache"])
    assert rc == 0
    with_context = [t for t in fake_model.texts if t.startswith(CONTEXT_PREFIX) and CONTEXT_SEP in t]
    assert len(with_context) == len(segments) - 4  # all but the first segment of each of the 4 documents


def test_backend_option_reaches_the_embedder(segments_csv, tmp_path, fake_model, monkeypatch):
    monkeypatch.delenv("PSYTHEMES_EMBED_BACKEND")  # the default would be onnx; the option picks the (fake) torch model
    rc = main(["themes", str(segments_csv), "--out", str(tmp_path / "o"), "--preset", "fast", "--no-cache",
               "--backend", "torch"])
    assert rc == 0 and fake_model.n_encoded >= 60  # the 60 segments, then the keyword candidates


def test_fallback_option_reaches_the_discoverer(segments_csv, tmp_path, fake_model):
    out = tmp_path / "o"
    assert main(["themes", str(segments_csv), "--out", str(out), "--no-cache", "--min-topic-size", "5",
                 "--fallback", "always"]) == 0
    run = json.loads((out / "themes_run.json").read_text())
    assert run["clustering_fallback"]["reason"] == "asked" and run["clustering_fallback"]["min_samples"] == 1


def test_bad_model_folder_is_a_one_line_error(segments_csv, tmp_path, capsys):
    rc = main(["themes", str(segments_csv), "--out", str(tmp_path / "o"), "--no-cache",
               "--model", "/nonexistent/model"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and "embedding model folder not found" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "extra, allowed",
    [
        (["--preset", "slow"], "'default', 'fast'"),
        (["--context", "next"], "'previous_turn'"),
        (["--backend", "tensorflow"], "'onnx', 'torch'"),
        (["--unit", "page"], "'turn', 'sentence', 'window'"),
        (["--fallback", "sometimes"], "'auto', 'always', 'never'"),
    ],
)
def test_bad_option_values_are_usage_errors_before_any_work(segments_csv, tmp_path, extra, allowed, capsys,
                                                             fake_model):
    rc = main(["themes", str(segments_csv), "--out", str(tmp_path / "o"), "--no-cache", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("Usage: psythemes themes") and f"Invalid value for '{extra[0]}'" in err
    assert allowed in err and "Traceback" not in err
    assert fake_model.n_encoded == 0 and not (tmp_path / "o").exists()


def test_interviewer_turns_and_backchannels_are_left_out_like_extract(segments_csv, tmp_path, fake_model, capsys):
    table = pd.read_csv(segments_csv)
    table.loc[:9, "role"] = "interviewer"
    table.loc[10:14, "text"] = "Mm-hmm."
    table.loc[10:14, "end"] = table.loc[10:14, "start"] + len("Mm-hmm.")  # offsets must fit the text
    table.to_csv(segments_csv, index=False)
    out = tmp_path / "o"
    assert main(["themes", str(segments_csv), "--out", str(out), "--preset", "fast", "--n-themes", "3",
                 "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "45 segments from 4 documents" in printed
    assert "15 segments left out (10 interviewer turns, 5 backchannels)" in printed
    assert len(pd.read_csv(out / "segment_themes.csv")) == 45
    assert main(["themes", str(segments_csv), "--out", str(out), "--preset", "fast", "--n-themes", "3",
                 "--no-cache", "--keep-interviewer", "--keep-backchannels"]) == 0
    assert "60 segments from 4 documents" in capsys.readouterr().out
    assert len(pd.read_csv(out / "segment_themes.csv")) == 60


def test_missing_input_is_an_error(tmp_path, capsys):
    rc = main(["themes", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "input not found" in err and "nope.csv" in err


def test_help_lists_the_options(capsys):
    assert main(["themes", "--help"]) == 0
    text = capsys.readouterr().out
    for opt in ("--preset", "--min-topic-size", "--n-themes", "--reduce-outliers", "--context", "--metadata", "--unit",
                "--encoding", "--guided"):
        assert opt in text


GUIDED_CODEBOOK = """\
name: guided-test
codes:
  - name: body
    definition: Tension in the body and ways to relax it.
    seed_words: [breathing, shoulders, tension]
    children:
      - name: study
        definition: Studies, exams and deadlines.
        seed_words: [thesis, exams]
  - name: care
    definition: Medical care; no seed words.
"""


def test_guided_discovery_uses_the_codebook_seed_words(segments_csv, tmp_path, fake_model, capsys):
    book = tmp_path / "guided.yaml"
    book.write_text(GUIDED_CODEBOOK, encoding="utf-8")
    out = tmp_path / "out"
    rc = main(["themes", str(segments_csv), "--out", str(out), "--preset", "fast", "--n-themes", "3", "--no-cache",
               "--guided", str(book)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    # the seed words are embedded after the segments: the summary still counts the segments
    assert "60 segments from 4 documents (60 distinct texts: 60 embedded, 0 from the cache)" in captured.out
    assert "guided by the seed words of 2 codes: body, study" in captured.out
    run = json.loads((out / "themes_run.json").read_text(encoding="utf-8"))
    assert run["seed_words"] == {"body": ["breathing", "shoulders", "tension"], "study": ["thesis", "exams"]}
    assert {"breathing shoulders tension", "thesis exams"} <= set(fake_model.texts)  # BERTopic joins each list
    assert sorted(pd.read_csv(out / "themes.csv")["size"]) == [20, 20, 20]


def test_guided_without_seed_words_is_an_error(segments_csv, tmp_path, fake_model, capsys):
    book = tmp_path / "plain.yaml"
    book.write_text("name: plain\ncodes:\n  - name: care\n    definition: Medical care.\n", encoding="utf-8")
    rc = main(["themes", str(segments_csv), "--out", str(tmp_path / "o"), "--preset", "fast", "--no-cache",
               "--guided", str(book)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error:") and "Traceback" not in err
    assert f"{book}: codebook 'plain' has no seed_words" in err
    assert fake_model.n_encoded == 0 and not (tmp_path / "o").exists()  # failed before embedding


def test_encoding_option_reaches_the_reader(cp1252_corpus, tmp_path, fake_model, capsys):
    rc = main(["themes", str(cp1252_corpus), "--out", str(tmp_path / "bad"), "--no-cache", "--encoding", "utf-8"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot decode as utf-8" in err and "Traceback" not in err
    out = tmp_path / "out"
    rc = main(["themes", str(cp1252_corpus), "--out", str(out), "--preset", "fast", "--no-cache",
               "--encoding", "cp1252"])
    assert rc == 0, capsys.readouterr().err
    texts = pd.read_csv(out / "segments.csv")["text"].tolist()
    assert "A long walk, then a café crème with a friend." in texts  # interviewer turns are left out
    assert "My supervisor’s “deadline” for the thesis worries me." in texts


@pytest.mark.slow
def test_guided_with_the_shipped_codebook_and_the_real_model(cp1252_corpus, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["themes", str(cp1252_corpus), "--out", str(out), "--preset", "fast", "--encoding", "cp1252",
               "--guided", "psychosomatic"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "guided by the seed words of 4 codes: alternation, awareness, alliance, common_ground" in captured.out
    run = json.loads((out / "themes_run.json").read_text(encoding="utf-8"))
    assert list(run["seed_words"]) == ["alternation", "awareness", "alliance", "common_ground"]
    assert "breathing" in run["seed_words"]["alternation"]


def test_runs_option_adds_stability(segments_csv, tmp_path, fake_model, capsys):
    out = tmp_path / "out"
    rc = main(["themes", str(segments_csv), "--out", str(out), "--preset", "fast", "--n-themes", "3",
               "--no-cache", "--runs", "3"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "stability over 3 seeds: reported seed" in printed
    themes = pd.read_csv(out / "themes.csv")
    assert {"stability", "stable"} <= set(themes.columns)
    run = json.loads((out / "themes_run.json").read_text(encoding="utf-8"))
    assert len(run["stability"]["runs"]) == 3


def test_names_of_people_talked_about_are_left_out_of_keywords(segments_csv, tmp_path, fake_model, capsys):
    """A stranger's sentence-unit run had a theme labelled 'gareth' (a man talked about, never a
    speaker); the command line had no way to name him."""
    table = pd.read_csv(segments_csv)
    table["text"] = [t.replace("the ", "Gareth said the ", 1) if k % 3 == 0 else t for k, t in enumerate(table["text"])]
    table["end"] = table["start"] + table["text"].str.len()
    table["segment_id"] = table["doc_id"] + ":" + table["start"].astype(str) + "-" + table["end"].astype(str)
    write_table(segments_csv, table)
    args = ["themes", str(segments_csv), "--no-cache", "--min-topic-size", "5"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert "theme keywords hold 1 word(s) that the transcripts write like names: gareth; where they name people" in (
        capsys.readouterr().err)
    names = tmp_path / "names.txt"
    names.write_text("# people talked about\nGareth\nPLACE: Hebden Bridge\n", encoding="utf-8")
    assert main([*args, "--out", str(tmp_path / "b"), "--names", str(names)]) == 0
    assert "write like names" not in capsys.readouterr().err
    assert not pd.read_csv(tmp_path / "b" / "themes.csv")["keywords"].str.contains("gareth").any()
    removed = [json.loads((tmp_path / run / "themes_run.json").read_text())["names_removed"] for run in "ab"]
    assert removed[1] == removed[0] + 1  # gareth; a place of the list is no person's name


def test_name_like_words_are_capitalised_away_from_a_sentence_start():
    from psythemes.themes.descriptions import name_like_words

    texts = ["I agree with Gareth on this.", "Like Gareth said, it was hard.", "and Gareth too", "Gareth.",
             "The NHS was slow, the NHS.", "the nhs and the NHS", "we went in August, in August, in August",
             "fatigue is hard, so Fatigue", "the fatigue", "the fatigue again"]
    assert name_like_words(["gareth · fatigue", "nhs · august"], texts) == ["gareth"]
    # a label that keeps an acronym's capitals raised a KeyError that stopped extract
    assert name_like_words(["GP · doctor", "Gareth"], ["I trust my GP a lot.", *texts]) == ["gareth"]
    assert name_like_words(["ışık · doktor"], ["ve Işık geldi", "ve Işık", "ve Işık"]) == []  # KeyError before
