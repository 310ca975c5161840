"""CLI: psythemes map / train / codebook validate|convert (fake embedder, no model download)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import psythemes.mapping as mapping
from psythemes.cli import main
from psythemes.codebook import load_codebook

from test_mapping import TOY, FakeEmbedder, toy_corpus


@pytest.fixture()
def fake_embedder(monkeypatch):
    monkeypatch.setattr(mapping, "default_embedder", lambda backend=None: FakeEmbedder())


@pytest.fixture()
def toy_files(tmp_path):
    from psythemes.codebook import save_codebook

    segs, y = toy_corpus(4)
    seg_path = tmp_path / "segments.csv"
    segs.to_csv(seg_path, index=False)
    gold = segs.assign(code=y).dropna(subset=["code"])[["doc_id", "start", "end", "code"]]
    gold_path = tmp_path / "gold.csv"
    gold.to_csv(gold_path, index=False)
    cb_path = save_codebook(TOY, tmp_path / "toy.yaml")
    return seg_path, gold_path, cb_path


def test_codebook_validate_and_convert(tmp_path, capsys):
    assert main(["codebook", "validate", "psychosomatic"]) == 0
    assert "4 codes" in capsys.readouterr().out
    qdc = tmp_path / "cb.qdc"
    assert main(["codebook", "convert", "psychosomatic", str(qdc)]) == 0
    csv = tmp_path / "cb.csv"
    assert main(["codebook", "convert", str(qdc), str(csv)]) == 0
    assert load_codebook(csv).codes == load_codebook("psychosomatic").codes
    assert main(["codebook", "validate", str(csv)]) == 0
    # an existing file (a team's notes beside the codes) is not replaced unasked
    notes = tmp_path / "team.yaml"
    notes.write_text("# our notes\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["codebook", "convert", str(csv), str(notes)]) == 2
    assert "exists; give another file name, or --overwrite" in capsys.readouterr().err
    assert notes.read_text(encoding="utf-8") == "# our notes\n"
    assert main(["codebook", "convert", str(csv), str(notes), "--overwrite"]) == 0


def test_codebook_validate_names_the_headings(tmp_path, capsys):
    from test_codebook import GROUPED_QDC

    qdc = tmp_path / "atlas.qdc"
    qdc.write_text(GROUPED_QDC, encoding="utf-8")
    assert main(["codebook", "validate", str(qdc)]) == 0
    out = capsys.readouterr().out
    assert "4 codes" in out and "1 heading(s) only group codes and are never assigned: SUPPORT STRATEGIES" in out


def test_codebook_validate_reports_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("codes:\n  - name: a\n    definiton: typo\n", encoding="utf-8")
    assert main(["codebook", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.yaml" in err and "did you mean 'definition'" in err
    assert "Traceback" not in err
    assert main(["codebook", "convert", str(bad), str(bad)]) == 2


def test_map_zero_shot(toy_files, tmp_path, capsys, fake_embedder):
    seg_path, _, cb_path = toy_files
    out = tmp_path / "out"
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--out", str(out)]) == 0
    codes = pd.read_csv(out / "codes.csv")
    assert list(codes.columns) == ["doc_id", "segment_id", "start", "end", "code", "score", "method", "evidence"]
    assert set(codes["code"]) <= {"body", "trust", "agree"} and (codes["method"] == "zero-shot").all()
    assert "codes assigned" in capsys.readouterr().out
    # codes corrected by hand in codes.csv survive a second run, beside the new codes
    corrected = (out / "codes.csv").read_text() + "doc0,doc0:0-1,0,1,trust,1.0,human,checked by AB\n"
    (out / "codes.csv").write_text(corrected)
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--out", str(out)]) == 0
    assert "codes.csv was changed since psythemes wrote it; kept as codes.kept.csv" in capsys.readouterr().err
    assert (out / "codes.kept.csv").read_text() == corrected
    assert "checked by AB" not in (out / "codes.csv").read_text()


def test_train_then_map_with_model(toy_files, tmp_path, capsys, fake_embedder):
    seg_path, gold_path, cb_path = toy_files
    model_dir = tmp_path / "models" / "toy"
    assert main(["train", str(seg_path), "--gold", str(gold_path), "--codebook", str(cb_path),
                 "--out", str(model_dir), "--cv", "2"]) == 0
    captured = capsys.readouterr()
    assert "kappa" in captured.out
    # a toy corpus: the CV figures mean little, and train says so
    assert "warning: cross-validation on " in captured.err and "mean little" in captured.err
    card = json.loads((model_dir / "card.json").read_text())
    assert card["metrics_grouped_cv"]["n_splits"] == 2
    out = tmp_path / "out"
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--model", str(model_dir), "--out", str(out)]) == 0
    codes = pd.read_csv(out / "codes.csv")
    assert (codes["method"] == "few-shot").all() and set(codes["code"]) == {"body", "trust"}
    # the model codes its own training documents here: scored, agreement it never earned, and said so
    assert "4 of the documents to code are ones the model was trained on" in capsys.readouterr().err
    # the same codes in a file of another name (a CSV's codebook is named after it) are the same
    # codebook; another code list is refused, saying what differs
    from psythemes.codebook import save_codebook

    copy = save_codebook(TOY, tmp_path / "toy_final.csv")
    assert main(["map", str(seg_path), "--codebook", str(copy), "--model", str(model_dir),
                 "--out", str(tmp_path / "out_copy")]) == 0
    other = load_codebook(cb_path)
    renamed = save_codebook(type(other)(name="v2", codes=other.codes[1:]), tmp_path / "v2.yaml")
    capsys.readouterr()
    assert main(["map", str(seg_path), "--codebook", str(renamed), "--model", str(model_dir),
                 "--out", str(tmp_path / "out_v2")]) == 2
    assert f"only in the model's: {other.codes[0].name})" in capsys.readouterr().err
    # few-shot straight from gold for two of the four documents: the segments trained on get no
    # codes (theirs are the gold; scored, they would show agreement the mapper never earned)
    gold = pd.read_csv(gold_path)
    part = tmp_path / "gold_part.csv"
    gold[gold["doc_id"].isin(["doc0", "doc1"])].to_csv(part, index=False)
    out2 = tmp_path / "out2"
    capsys.readouterr()
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "few-shot",
                 "--train", str(part), "--out", str(out2)]) == 0
    assert set(pd.read_csv(out2 / "codes.csv")["doc_id"]) == {"doc2", "doc3"}
    assert "the 24 segments trained on are not coded" in capsys.readouterr().out


def test_train_multi_label_says_the_thresholds_it_chose(toy_files, tmp_path, capsys, fake_embedder):
    seg_path, gold_path, cb_path = toy_files
    model_dir = tmp_path / "m"
    assert main(["train", str(seg_path), "--gold", str(gold_path), "--codebook", str(cb_path),
                 "--out", str(model_dir), "--cv", "0", "--multi-label"]) == 0
    printed = capsys.readouterr().out
    chosen = json.loads((model_dir / "card.json").read_text())["thresholds"]
    assert set(chosen) == {"body", "trust"}
    assert ("thresholds per code (chosen in grouped cross-validation): "
            + ", ".join(f"{c} {t:.2f}" for c, t in chosen.items())) in printed
    # map says them too, whether it loads the model or trains one on the spot
    assert main(["map", str(seg_path), "--model", str(model_dir), "--out", str(tmp_path / "o1")]) == 0
    assert "thresholds per code" in capsys.readouterr().out
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "few-shot", "--train", str(gold_path),
                 "--multi-label", "--out", str(tmp_path / "o2")]) == 0
    assert "thresholds per code" in capsys.readouterr().out


def test_map_with_themes(toy_files, tmp_path, fake_embedder):
    seg_path, _, cb_path = toy_files
    segs = pd.read_csv(seg_path)
    themes_dir = tmp_path / "themes"
    themes_dir.mkdir()
    pd.DataFrame({"theme_id": [0, 1], "label": ["x", "y"], "keywords": ["", ""], "size": [1, 1]}).to_csv(
        themes_dir / "themes.csv", index=False)
    body = segs["text"].str.contains("breathing|exercise")
    pd.DataFrame(
        {"segment_id": segs["segment_id"], "theme_id": [0 if b else 1 for b in body], "probability": 1.0}
    ).to_csv(themes_dir / "segment_themes.csv", index=False)
    out = tmp_path / "out"
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--themes", str(themes_dir), "--out", str(out)]) == 0
    theme_codes = pd.read_csv(out / "theme_codes.csv", keep_default_na=False)
    assert theme_codes.loc[theme_codes["theme_id"] == 0, "best_code"].item() == "body"


def test_map_bad_inputs(toy_files, tmp_path, capsys, fake_embedder):
    seg_path, gold_path, cb_path = toy_files
    broken = tmp_path / "broken.csv"
    broken.write_text("doc_id,text\nd,hello\n", encoding="utf-8")
    assert main(["map", str(broken), "--codebook", str(cb_path), "--out", str(tmp_path / "o")]) == 2
    assert "lacks column" in capsys.readouterr().err
    assert main(["map", str(tmp_path / "missing.csv"), "--codebook", str(cb_path), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "few-shot",
                 "--out", str(tmp_path / "o")]) == 2
    assert "needs --train" in capsys.readouterr().err
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "magic",
                 "--out", str(tmp_path / "o")]) == 2
    assert "Invalid value for '--method'" in capsys.readouterr().err
    bad_gold = tmp_path / "bad_gold.csv"
    bad_gold.write_text("doc_id,start,end,code\ndoc0,0,5,nope\n", encoding="utf-8")
    assert main(["train", str(seg_path), "--gold", str(bad_gold), "--codebook", str(cb_path),
                 "--out", str(tmp_path / "m")]) == 2
    assert "nope" in capsys.readouterr().err
    # an --out that is a file is refused before the gold is read (its warnings came first, then the error)
    assert main(["train", str(seg_path), "--gold", str(bad_gold), "--codebook", str(cb_path),
                 "--out", str(seg_path)]) == 2
    err = capsys.readouterr().err
    assert "output path exists and is not a folder" in err and "nope" not in err


def test_map_and_train_need_a_codebook(toy_files, tmp_path, capsys, fake_embedder):
    """No silent study codebook: without --codebook (or --model) map and train stop before any work."""
    seg_path, gold_path, cb_path = toy_files
    assert main(["map", str(seg_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no codebook given") and "--codebook psychosomatic" in err
    assert main(["train", str(seg_path), "--gold", str(gold_path), "--out", str(tmp_path / "m")]) == 2
    assert "Missing option '--codebook'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "m").exists()


def test_thin_cross_validation_warns():
    from psythemes.errors import PsythemesWarning
    from psythemes.mapping import warn_thin_cross_validation

    docs = [f"d{i % 3}" for i in range(30)]
    y = [["a"] if i % 2 else ["b"] for i in range(28)] + [["c"], []]
    with pytest.warns(PsythemesWarning) as caught:
        messages = warn_thin_cross_validation(docs, y, ["a", "b", "c"], n_splits=5)
    assert len(messages) == 2 == len(caught)
    assert messages[0].startswith("cross-validation on 3 coded document(s) (3 folds)")
    assert "c (1 segments in 1 documents)" in messages[1] and "a (" not in messages[1]
    many = [f"d{i % 12}" for i in range(240)]
    assert warn_thin_cross_validation(many, [["a"]] * 240, ["a"], n_splits=5) == []


@pytest.fixture()
def named_files(tmp_path):
    """A plain name,description codebook with names as a team writes them; gold spelt in other ways."""
    segs, y = toy_corpus(6)
    seg_path = tmp_path / "segments.csv"
    segs.to_csv(seg_path, index=False)
    cb_path = tmp_path / "codebook.csv"
    cb_path.write_text("name,description\nBODY WORK,Body exercise and breathing.\n"
                       "Trust Is There,\"Trust, feeling safe, being listened to.\"\n", encoding="utf-8")
    spelling = {"body": "body_work", "trust": "TRUST IS THERE"}  # slug / other case than the codebook
    gold = segs.assign(code=[spelling.get(v) for v in y]).dropna(subset=["code"])[["doc_id", "start", "end", "code"]]
    gold_path = tmp_path / "gold.csv"
    gold.to_csv(gold_path, index=False)
    return seg_path, gold_path, cb_path


def test_names_as_written_through_train_map_evaluate(named_files, tmp_path, capsys, fake_embedder):
    seg_path, gold_path, cb_path = named_files
    model_dir = tmp_path / "model"
    assert main(["train", str(seg_path), "--gold", str(gold_path), "--codebook", str(cb_path),
                 "--out", str(model_dir), "--cv", "2"]) == 0
    card = json.loads((model_dir / "card.json").read_text())
    assert set(card["classes"]) - {"__none__"} == {"BODY WORK", "Trust Is There"}
    assert "BODY WORK" in (model_dir / "model_card.md").read_text()
    out = tmp_path / "out"
    assert main(["map", str(seg_path), "--model", str(model_dir), "--out", str(out)]) == 0
    codes = pd.read_csv(out / "codes.csv")
    assert set(codes["code"]) == {"BODY WORK", "Trust Is There"}
    ev_dir = tmp_path / "ev"
    assert main(["evaluate", "--pred", str(out / "codes.csv"), "--gold", str(gold_path), "--segments", str(seg_path),
                 "--out", str(ev_dir), "--n-boot", "0"]) == 0
    per_code = pd.read_csv(ev_dir / "agreement.csv")
    assert set(per_code["code"]) == {"BODY WORK", "Trust Is There"}  # gold spellings found their codes
    assert (per_code["kappa"] > 0.9).all()
    # few-shot straight from the gold, and zero-shot, both write the user's names
    for extra in (["--method", "few-shot", "--train", str(gold_path)], []):
        out2 = tmp_path / f"out{len(extra)}"
        assert main(["map", str(seg_path), "--codebook", str(cb_path), "--out", str(out2), *extra]) == 0
        assert set(pd.read_csv(out2 / "codes.csv")["code"]) <= {"BODY WORK", "Trust Is There"}
    # only a label matching no code is an error, with the closest name
    bad = tmp_path / "bad.csv"
    bad.write_text("doc_id,start,end,code\ndoc0,0,5,Body Werk\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["train", str(seg_path), "--gold", str(bad), "--codebook", str(cb_path),
                 "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:2: gold code 'Body Werk' is not in the codebook (did you mean 'BODY WORK'?)" in err


def test_few_shot_infers_roles_and_single_label(named_files, tmp_path, capsys, fake_embedder):
    seg_path, _, cb_path = named_files
    segs = pd.read_csv(seg_path)
    # the gold codes every therapist turn with exactly one code, and no patient turn
    therapist = segs[segs["role"] == "therapist"]
    code = therapist["text"].str.contains("breathing|exercise|body").map({True: "BODY WORK", False: "Trust Is There"})
    gold_path = tmp_path / "gold_t.csv"
    trained = therapist["doc_id"].isin(["doc0", "doc1", "doc2"])  # the other three documents are coded
    therapist.assign(code=code)[trained][["doc_id", "start", "end", "code"]].to_csv(gold_path, index=False)
    therapist = therapist[~trained]
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "few-shot", "--train", str(gold_path),
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "only therapist segments" in err and "single-label" in err
    codes = pd.read_csv(out / "codes.csv")
    coded = segs.set_index("segment_id").loc[codes["segment_id"], "role"]
    assert (coded == "therapist").all() and codes["segment_id"].nunique() == len(therapist) == len(codes)
    # --multi-label overrides the inference
    out2 = tmp_path / "out2"
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "few-shot", "--train", str(gold_path),
                 "--multi-label", "--out", str(out2)]) == 0
    assert "multi-label, as asked" in capsys.readouterr().err


def test_map_single_label_zero_shot(named_files, tmp_path, capsys, fake_embedder):
    seg_path, _, cb_path = named_files
    out = tmp_path / "out"
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--single-label", "--out", str(out)]) == 0
    codes = pd.read_csv(out / "codes.csv")
    segs = pd.read_csv(seg_path)
    assert len(codes) == len(segs) == codes["segment_id"].nunique()  # exactly one code each


def test_map_zero_shot_roles(named_files, tmp_path, capsys, fake_embedder):
    """--roles: only those segments are coded (and calibrated on); few-shot takes its roles from the gold."""
    seg_path, gold_path, cb_path = named_files
    out = tmp_path / "out"
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--single-label", "--roles", "patient",
                 "--out", str(out)]) == 0
    codes = pd.read_csv(out / "codes.csv")
    segs = pd.read_csv(seg_path)
    patients = set(segs.loc[segs["role"] == "patient", "segment_id"])
    assert set(codes["segment_id"]) == patients  # every patient segment, exactly one code, nothing else
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--method", "few-shot", "--train", str(gold_path),
                 "--roles", "patient", "--out", str(tmp_path / "few")]) == 2
    assert "--roles is for zero-shot mapping" in capsys.readouterr().err
    # a role no segment has would code nothing: an error; one of several missing: a warning
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--roles", "nurse",
                 "--out", str(tmp_path / "n")]) == 2
    assert "no segment has the role(s) nurse (roles in the segments: patient, therapist)" in capsys.readouterr().err
    assert not (tmp_path / "n").exists() and not (tmp_path / "few").exists()  # refused before anything is written
    assert main(["map", str(seg_path), "--codebook", str(cb_path), "--single-label", "--roles", "patient,nurse",
                 "--out", str(tmp_path / "pn")]) == 0
    assert "warning: no segment has the role(s) nurse" in capsys.readouterr().err


def test_map_zero_shot_leaves_interviewer_and_backchannels_uncoded(named_files, tmp_path, capsys, fake_embedder):
    """As extract and themes do, zero-shot map sets aside interviewer turns and backchannels of a
    segments.csv from ``psythemes segment`` (which keeps them, marked), and says so."""
    seg_path, gold_path, cb_path = named_files
    segs = pd.read_csv(seg_path)
    segs.loc[segs.index % 12 == 0, "role"] = "interviewer"
    short = segs.index % 12 == 1
    segs.loc[short, "text"] = "Mm-hmm."
    segs.loc[short, "end"] = segs.loc[short, "start"] + len("Mm-hmm.")
    mixed = tmp_path / "mixed.csv"
    segs.to_csv(mixed, index=False)
    interviewer = set(segs.loc[segs["role"] == "interviewer", "segment_id"])
    backchannel = set(segs.loc[segs["text"] == "Mm-hmm.", "segment_id"])
    out = tmp_path / "out"
    assert main(["map", str(mixed), "--codebook", str(cb_path), "--single-label", "--out", str(out)]) == 0
    coded = set(pd.read_csv(out / "codes.csv")["segment_id"])
    assert coded == set(segs["segment_id"]) - interviewer - backchannel
    n_aside = len(interviewer | backchannel)
    assert f"{n_aside} interviewer/backchannel segments left uncoded" in capsys.readouterr().out
    out_all = tmp_path / "all"
    assert main(["map", str(mixed), "--codebook", str(cb_path), "--single-label", "--keep-interviewer",
                 "--keep-backchannels", "--out", str(out_all)]) == 0
    assert set(pd.read_csv(out_all / "codes.csv")["segment_id"]) == set(segs["segment_id"])
    assert "left uncoded" not in capsys.readouterr().out
    # asking for the interviewer role codes interviewer turns
    out_role = tmp_path / "role"
    assert main(["map", str(mixed), "--codebook", str(cb_path), "--single-label", "--roles", "interviewer",
                 "--out", str(out_role)]) == 0
    assert set(pd.read_csv(out_role / "codes.csv")["segment_id"]) == interviewer - backchannel


def test_codebook_validate_shows_warnings_as_lines(tmp_path, capsys):
    """A MAXQDA-style export (extra columns, paths as names): warnings without Python's file/line noise."""
    cb = tmp_path / "maxqda.csv"
    cb.write_text("Code;Code memo;Color\nMechanisms\\Awareness;Body and mind;#FF0000\nMechanisms\\Trust;;#00FF00\n",
                  encoding="utf-8")
    assert main(["codebook", "validate", str(cb)]) == 0
    captured = capsys.readouterr()
    assert "warning: maxqda.csv: the code tree comes from code names written as paths" in captured.err
    assert "PsythemesWarning" not in captured.err and "load_codebook(" not in captured.err
    assert "2 code(s) have neither examples nor include criteria" in captured.out
    assert main(["codebook", "convert", str(cb), str(tmp_path / "out.yaml")]) == 0
    assert "PsythemesWarning" not in capsys.readouterr().err


def test_map_and_train_refuse_transcripts(tmp_path, capsys):
    """map/train read a segments.csv; a transcript or a folder gets a pointer to 'psythemes segment'."""
    vtt = tmp_path / "zoom.vtt"
    vtt.write_text("WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nAnna: Hello.\n", encoding="utf-8")
    for args in (["map", str(vtt), "--codebook", "psychosomatic", "--out", str(tmp_path / "m")],
                 ["map", str(tmp_path), "--codebook", "psychosomatic", "--out", str(tmp_path / "m")],
                 ["train", str(vtt), "--gold", str(vtt), "--codebook", "psychosomatic", "--out", str(tmp_path / "t")]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"'psythemes {args[0]}' reads a segments.csv, not transcripts" in err and "psythemes segment" in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "t").exists()


def test_training_leaves_out_interviewer_turns_nobody_coded(tmp_path):
    # `segment` output without metadata: participants have no role, and the interviewer's 56
    # questions were "no code" training examples, where evaluate sets them aside
    from psythemes.errors import PsythemesWarning
    from psythemes.jobs import _few_shot_training

    segs, y = toy_corpus(2)
    segs = segs.assign(role=["interviewer" if i % 2 == 0 else "" for i in range(len(segs))])
    gold = segs.assign(code=y)[[(i % 2 == 1 and v is not None) for i, v in enumerate(y)]]
    gold_path = tmp_path / "gold.csv"
    gold[["doc_id", "start", "end", "code"]].to_csv(gold_path, index=False)
    with pytest.warns(PsythemesWarning, match=r"12 interviewer turn\(s\) or backchannel\(s\) without a gold code are "
                                              "not training examples"):
        train, _, _ = _few_shot_training(TOY, segs, gold_path, None)
    assert (train["role"] != "interviewer").all() and len(train) == 12


def test_map_self_training_option(toy_files, tmp_path, capsys, fake_embedder):
    """A small study turns self-training off by default (said); --self-training on forces it."""
    from psythemes.codebook import save_codebook

    from test_mapping import PLAIN

    seg_path, _, _ = toy_files
    plain = save_codebook(PLAIN, tmp_path / "plain.csv")
    assert main(["map", str(seg_path), "--codebook", str(plain), "--out", str(tmp_path / "auto")]) == 0
    assert "zero-shot without self-training: 48 segments are fewer than the 500" in capsys.readouterr().err
    assert main(["map", str(seg_path), "--codebook", str(plain), "--self-training", "on",
                 "--out", str(tmp_path / "on")]) == 0
    assert "without self-training" not in capsys.readouterr().err
    assert main(["map", str(seg_path), "--codebook", str(plain), "--self-training", "maybe",
                 "--out", str(tmp_path / "x")]) == 2


def test_jobs_zero_is_refused_before_any_work(toy_files, tmp_path, capsys):
    seg_path, gold_path, cb_path = toy_files
    for command in (["train", str(seg_path), "--gold", str(gold_path)], ["map", str(seg_path), "--method", "few-shot",
                                                                          "--train", str(gold_path)]):
        assert main([*command, "--codebook", str(cb_path), "--out", str(tmp_path / "o"), "--jobs", "0"]) == 2
        assert "--jobs must be a number of processes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
