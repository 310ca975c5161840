"""The main job end to end on the demo corpus (fast preset), through the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.errors import InputError, PsythemesWarning
from psythemes.pipeline import extract
from psythemes.schema import CODE_COLUMNS, SEGMENT_COLUMNS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(demo_dir: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("extract")
    result = extract(
        [demo_dir / "transcripts"], out,
        metadata=demo_dir / "metadata.csv",
        gold=demo_dir / "codes" / "reference.csv",
        preset="fast", n_boot=100, random_state=0,
    )
    return result, out


def test_every_stage_writes_its_table(demo_run):
    _, out = demo_run
    for name in ("transcripts.jsonl", "segments.csv", "segments_dropped.csv", "themes.csv", "segment_themes.csv",
                 "themes_by_role.csv", "themes_by_wave.csv", "codes.csv", "codes.parquet", "themes.parquet",
                 "theme_codes.csv", "codebook.yaml", "codebook.csv", "codebook.qdc", "agreement.csv",
                 "agreement.json", "confusion.csv", "disagreements.csv", "report.html", "project.qdpx",
                 "manifest.json", "figures/barchart.html", "results.xlsx"):
        assert (out / name).is_file(), name
    # results.xlsx: every CSV table as a sheet, with the same number of rows
    import openpyxl

    book = openpyxl.load_workbook(out / "results.xlsx", read_only=True)
    csvs = sorted(out.glob("*.csv"))
    assert book.sheetnames == ["about", *(p.stem for p in csvs)]
    assert sum(1 for _ in book["segments"].iter_rows()) == len(pd.read_csv(out / "segments.csv")) + 1
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_tables_keep_offsets_into_the_normalised_text(demo_run):
    result, out = demo_run
    texts = {t.doc_id: t.text for t in result.transcripts}
    segments = pd.read_csv(out / "segments.csv", keep_default_na=False)
    assert list(segments.columns[: len(SEGMENT_COLUMNS)]) == SEGMENT_COLUMNS
    assert segments["doc_id"].nunique() == 64
    for rec in segments.itertuples():
        assert texts[rec.doc_id][rec.start:rec.end] == rec.text
    # participants only: interviewer turns and backchannels are set aside, not lost
    assert set(segments["role"]) == {"patient", "therapist"}
    dropped = pd.read_csv(out / "segments_dropped.csv", keep_default_na=False)
    assert "interviewer" in set(dropped["role"])
    codes = pd.read_csv(out / "codes.csv", keep_default_na=False)
    assert list(codes.columns[: len(CODE_COLUMNS)]) == CODE_COLUMNS
    assert set(codes["code"]) <= {"alternation", "awareness", "alliance", "common_ground"}
    assert set(codes["segment_id"]) <= set(segments["segment_id"])


def test_themes_and_theme_codes(demo_run):
    result, out = demo_run
    themes = pd.read_csv(out / "themes.csv", keep_default_na=False)
    assert len(themes) >= 2
    assert themes["label"].str.len().min() > 0
    theme_codes = pd.read_csv(out / "theme_codes.csv", keep_default_na=False)
    assert set(theme_codes["theme_id"]) == set(themes["theme_id"])
    assert set(theme_codes["best_code"]) <= {"", "alternation", "awareness", "alliance", "common_ground"}


def test_evaluation_against_two_reference_coders(demo_run):
    result, out = demo_run
    summary = json.loads((out / "agreement.json").read_text())
    text = json.dumps(summary)
    assert "A" in text and "B" in text  # both reference coders are used
    per_code = pd.read_csv(out / "agreement.csv")
    assert set(per_code["code"]) == {"alternation", "awareness", "alliance", "common_ground"}
    # the human-human baseline (coder A vs coder B) is reported next to machine-vs-gold
    assert per_code["human_kappa"].notna().all()
    assert result.evaluation.summary["n_gold_spans_aligned"] == result.evaluation.summary["n_gold_spans"]


def test_manifest_records_the_run(demo_run, demo_dir):
    result, out = demo_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parts"]["discoverer"]["preset"] == "fast" and manifest["random_state"] == 0
    assert manifest["versions"]["torch"].startswith("2.13.0")
    assert manifest["codebook"]["codes"] == ["alternation", "awareness", "alliance", "common_ground"]
    hashed = {Path(i["path"]).name for i in manifest["inputs"]}
    assert "P01-W1.txt" in hashed and "FG2.vtt" in hashed and "T07.docx" in hashed
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert set(manifest["timings_s"]) >= {"read", "segment", "embed", "themes", "map", "evaluate", "report", "write"}
    assert "report.html" in manifest["outputs"]


def test_qdpx_export_holds_machine_and_gold_codes(demo_run):
    from psythemes.qdpx import read_qdpx

    result, out = demo_run
    project = read_qdpx(out / "project.qdpx")
    assert len(project.transcripts) == 64
    assert set(project.codings["coder"]) == {"psythemes", "A", "B"}
    assert project.codebook.names == ["alternation", "awareness", "alliance", "common_ground"]
    gold = pd.read_csv(Path(__file__).parents[1] / "corpora/psychosomatic-demo/codes/reference.csv")
    assert (project.codings["coder"] != "psythemes").sum() == len(gold)


def test_qdpx_input_round_trip(demo_run, tmp_path, monkeypatch):
    """A .qdpx is a valid input: its codebook and codings are used as codebook and gold."""
    import psythemes.qdpx as qdpx_mod

    _, out = demo_run
    reads = []
    real = qdpx_mod.read_qdpx
    monkeypatch.setattr(qdpx_mod, "read_qdpx", lambda *a, **k: reads.append(a) or real(*a, **k))
    result = extract(out / "project.qdpx", tmp_path / "again", preset="fast", n_boot=0, qdpx=False)
    assert len(reads) == 1  # the project is parsed once, for transcripts, codebook and codings alike
    assert len(result.transcripts) == 64
    # the machine codes of the export are not gold: only the human coders are (issue #17)
    assert result.gold is not None and set(result.gold["coder"]) == {"A", "B"}
    assert result.codebook.names == ["alternation", "awareness", "alliance", "common_ground"]


def test_qdpx_export_carries_scores_themes_and_roles(demo_run):
    from psythemes.qdpx import read_qdpx

    result, out = demo_run
    project = read_qdpx(out / "project.qdpx")
    machine = project.suggestions
    assert len(machine) == len(result.codes) and set(machine["coder"]) == {"psythemes"}
    assert machine["score"].notna().all() and (machine["evidence"] != "").any()
    assert len(project.themes) == len(result.themes)
    assert set(project.themes["label"]) == {" ".join(str(v).split()) for v in result.themes["label"]}
    assert "psythemes candidate themes" not in project.codebook.names


def test_cli_extract_and_failed_run_keeps_earlier_results(demo_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    sub = demo_dir / "transcripts"
    inputs = [str(sub / n) for n in ("P01-W1.txt", "P01-W2.txt", "P02-W1.txt", "T01.txt", "T02.txt")]
    rc = main(["extract", *inputs, "--metadata", str(demo_dir / "metadata.csv"), "--out", str(out),
               "--preset", "fast", "--n-boot", "0", "--no-qdpx"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "5 transcripts" in printed and "report.html" in printed
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    bad_gold = tmp_path / "gold.csv"
    bad_gold.write_text("doc_id,start,end,code,coder\nP01-W1,0,99999999,alliance,A\n")
    rc = main(["extract", *inputs, "--metadata", str(demo_dir / "metadata.csv"), "--out", str(out),
               "--gold", str(bad_gold), "--preset", "fast", "--no-qdpx"])
    err = capsys.readouterr().err
    assert rc == 2 and "error:" in err and "Traceback" not in err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


def test_rerun_into_same_folder_removes_outputs_the_new_run_does_not_make(demo_dir, tmp_path):
    names = ["P01-W1", "P01-W2", "P02-W1", "T01", "T02"]
    inputs = [demo_dir / "transcripts" / f"{n}.txt" for n in names]
    gold = pd.read_csv(demo_dir / "codes" / "reference.csv")
    gold = gold[gold["doc_id"].isin(names)]
    out = tmp_path / "run"
    with pytest.warns(PsythemesWarning, match="metadata rows match no transcript"):
        extract(inputs, out, metadata=demo_dir / "metadata.csv", gold=gold, preset="fast", n_boot=0, qdpx=False)
    assert (out / "agreement.csv").exists()
    (out / "my_notes.txt").write_text("not psythemes' file")
    with pytest.warns(PsythemesWarning, match="metadata rows match no transcript"):
        extract(inputs, out, metadata=demo_dir / "metadata.csv", preset="fast", n_boot=0, qdpx=False)
    assert not (out / "agreement.csv").exists()  # stale evaluation of the earlier run
    assert (out / "my_notes.txt").exists()  # files psythemes did not write are never touched
    assert (out / "codes.csv").exists()


def test_cached_rerun_reads_embeddings_and_themes_from_the_cache(demo_run, demo_dir, tmp_path):
    first, out = demo_run
    again = tmp_path / "again"
    extract([demo_dir / "transcripts"], again, metadata=demo_dir / "metadata.csv",
            gold=demo_dir / "codes" / "reference.csv", preset="fast", n_boot=100, random_state=0)
    manifest = json.loads((again / "manifest.json").read_text())
    assert manifest["cache"] == {"texts_embedded": 0, "texts_from_cache": manifest["cache"]["texts_from_cache"],
                                 "themes_from_cache": True}
    assert manifest["cache"]["texts_from_cache"] > 1000
    assert json.loads((out / "manifest.json").read_text())["cache"]["themes_from_cache"] is False
    for name in ("themes.csv", "segment_themes.csv", "themes_by_role.csv", "themes_by_wave.csv", "codes.csv",
                 "theme_codes.csv", "agreement.csv", "figures/barchart.html", "figures/intertopic.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_encoding_reaches_the_readers_and_the_manifest(cp1252_corpus, tmp_path, capsys):
    rc = main(["extract", str(cp1252_corpus), "--out", str(tmp_path / "bad"), "--encoding", "nonsense",
               "--codebook", "psychosomatic"])
    err = capsys.readouterr().err
    assert rc == 2 and "error: unknown text encoding 'nonsense'" in err and "Traceback" not in err
    with pytest.raises(InputError, match="cannot decode as utf-8"):
        extract(cp1252_corpus, tmp_path / "utf8", encoding="utf-8", preset="fast", n_boot=0, qdpx=False,
                codebook="psychosomatic")
    assert not (tmp_path / "bad").exists() and not (tmp_path / "utf8").exists()

    out = tmp_path / "run"
    result = extract(cp1252_corpus, out, encoding="cp1252", preset="fast", n_boot=0, qdpx=False,
                     codebook="psychosomatic")
    assert "How was the café?" in result.transcripts[0].text
    assert "My supervisor’s “deadline” for the thesis worries me." in set(result.segments["text"])
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["options"]["encoding"] == "cp1252"


def test_a_trained_mapper_is_given_the_embedding_backend_it_was_trained_on(cp1252_corpus, tmp_path, monkeypatch):
    from psythemes.embed import Embedder
    from psythemes.mapping import FewShotMapper

    from test_mapping import TOY, FakeEmbedder, toy_corpus

    segs, y = toy_corpus()
    model = FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, y).save(tmp_path / "m", embedding_backend="torch")

    class Seen(Exception):
        pass

    def record(self, segments):
        raise Seen(self.backend_)

    monkeypatch.setattr(Embedder, "embed_segments", record)
    monkeypatch.delenv("PSYTHEMES_EMBED_BACKEND", raising=False)
    options = dict(encoding="cp1252", preset="fast", n_boot=0, qdpx=False, method="few-shot", model=model)
    with pytest.raises(Seen, match="^torch$"):
        extract(cp1252_corpus, None, **options)
    with pytest.raises(Seen, match="^onnx$"):  # an explicit choice wins
        extract(cp1252_corpus, None, embedding_backend="onnx", **options)


def test_cli_backend_option_reaches_the_embedder(cp1252_corpus, tmp_path, capsys, monkeypatch):
    from psythemes.embed import Embedder

    rc = main(["extract", str(cp1252_corpus), "--out", str(tmp_path / "bad"), "--backend", "tensorflow",
               "--codebook", "psychosomatic"])
    err = capsys.readouterr().err
    assert rc == 2 and "Invalid value for '--backend'" in err and "'onnx', 'torch'" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()

    seen = []

    def record(self, segments):
        seen.append(self.backend_)
        raise InputError("stop here")

    monkeypatch.setattr(Embedder, "embed_segments", record)
    monkeypatch.delenv("PSYTHEMES_EMBED_BACKEND", raising=False)
    for backend in ("torch", None):
        extra = ["--backend", backend] if backend else []
        assert main(["extract", str(cp1252_corpus), "--out", str(tmp_path / "o"), "--encoding", "cp1252",
                     "--codebook", "psychosomatic", *extra]) == 2
    assert seen == ["torch", "onnx"]  # the option, then the default


def test_theme_code_shares_table_and_report_section(demo_run):
    result, out = demo_run
    shares = pd.read_csv(out / "theme_code_shares.csv", keep_default_na=False)
    assert set(shares["source"]) == {"machine", "gold"}
    assert set(shares["code"]) <= {"alternation", "awareness", "alliance", "common_ground"}
    themes = pd.read_csv(out / "themes.csv")
    assert set(shares["theme_id"]) <= set(themes["theme_id"]) | {-1}
    # per source and theme, the shares of a theme's segments never exceed its number of codes
    assert shares.groupby(["source", "theme_id"])["share_of_theme"].sum().le(4.0001).all()
    machine = shares[shares.source == "machine"]
    assert machine["n_segments"].sum() == len(pd.read_csv(out / "codes.csv"))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Themes beside codes" in html and "machine % / gold %" in html
    # the first screen names the coders and the reference (it said "Fleiss' κ of the 0 coders ()")
    assert "beside Cohen&#x27;s κ of the two coders (A and B) against each other" in html
    assert "(the majority of the coders who coded the document)" in html
    # the figures behind the saturation plot: per kind, one row per transcript added
    saturation = pd.read_csv(out / "saturation.csv")
    assert set(saturation["kind"]) == {"codes (gold)", "themes"}
    assert saturation.groupby("kind")["n"].max()["themes"] == result.segments["doc_id"].nunique()


def test_the_dask_runner_refuses_what_it_cannot_reproduce_before_any_work(tmp_path):
    """Corpus-calibrated codebooks, --single-label and several theme runs are refused with --scheduler
    (each worker would calibrate on its own partition); nothing is written."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("Interviewer: How was it?\nP01: The breathing helped my back.\n", encoding="utf-8")
    plain = tmp_path / "plain.csv"
    plain.write_text("name,description\nBody Work,Exercises for the body and breathing.\n", encoding="utf-8")
    runner = object()  # never reached: the check comes first
    for kwargs, said in (({"codebook": plain}, "definitions only"),
                         ({"codebook": "psychosomatic", "single_label": True}, "--single-label"),
                         ({"codebook": "psychosomatic", "theme_runs": 3}, "several theme runs")):
        with pytest.raises(InputError, match=said):
            extract([src], tmp_path / "out", scheduler=runner, cache_dir=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_extract_codes_only_the_roles_asked_for(demo_dir, tmp_path, capsys):
    """--roles on extract, as on map: zero-shot codes (and calibrates on) those roles only; a role no
    segment has, or --roles with a trained few-shot mapper, is refused before anything is written."""
    sub = demo_dir / "transcripts"
    inputs = [str(sub / n) for n in ("P01-W1.txt", "P02-W1.txt", "T01.txt", "T02.txt")]
    common = ["--metadata", str(demo_dir / "metadata.csv"), "--preset", "fast", "--n-boot", "0", "--no-qdpx"]
    out = tmp_path / "patients"
    assert main(["extract", *inputs, *common, "--single-label", "--roles", "patient", "--out", str(out)]) == 0
    codes = pd.read_csv(out / "codes.csv")
    segments = pd.read_csv(out / "segments.csv")
    patients = set(segments.loc[segments["role"] == "patient", "segment_id"])
    assert patients and set(segments["role"]) == {"patient", "therapist"}
    assert set(codes["segment_id"]) == patients  # every patient segment has its one code; no therapist segment
    assert main(["extract", *inputs, *common, "--roles", "nurse", "--out", str(tmp_path / "nurse")]) == 2
    assert "no segment has the role(s) nurse" in capsys.readouterr().err
    assert not (tmp_path / "nurse").exists()
    with pytest.raises(InputError, match="--roles is for zero-shot mapping"):
        extract(inputs, tmp_path / "few", method="few-shot", model=tmp_path / "no-model", roles=["patient"])
    with pytest.raises(InputError, match="roles must be a list"):
        extract(inputs, tmp_path / "str", roles="patient")  # type: ignore[arg-type]
    assert not (tmp_path / "few").exists() and not (tmp_path / "str").exists()


def test_a_trained_mapper_given_means_few_shot(demo_dir, tmp_path):
    """extract(model=DIR) without method="few-shot" coded zero-shot and left the model unused, silently."""
    model = Path(__file__).resolve().parents[1] / "models" / "annomi-therapist-fewshot"
    if not (model / "model.json").exists():
        pytest.skip(f"no saved model at {model}")
    sub = demo_dir / "transcripts"
    result = extract([sub / "P01-W1.txt", sub / "T01.txt"], None, metadata=demo_dir / "metadata.csv", model=model,
                     preset="fast", n_boot=0, qdpx=False)
    assert set(result.codes["method"]) == {"few-shot"} and result.manifest["options"]["method"] == "few-shot"
