"""The bundled synthetic demo corpus: readable, consistent with its metadata, spans verbatim."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from psythemes.io import read_metadata, read_transcripts
from psythemes.report import table_one


@pytest.fixture(scope="module")
def corpus(demo_dir: Path):
    metadata = read_metadata(demo_dir / "metadata.csv")
    transcripts = read_transcripts([demo_dir / "transcripts"], metadata=metadata)
    return {t.doc_id: t for t in transcripts}, metadata


def test_design_matches_the_study(corpus):
    transcripts, metadata = corpus
    roles = metadata.set_index("doc_id")["role"]
    patient_docs = [d for d in transcripts if roles[d] == "patient"]
    therapist_docs = [d for d in transcripts if roles[d] == "therapist" and not d.startswith("FG")]
    assert len(patient_docs) == 37
    assert len(therapist_docs) == 25
    assert sorted(d for d in transcripts if d.startswith("FG")) == ["FG1", "FG2"]
    assert metadata.query("role == 'patient'")["participant"].nunique() == 20
    formats = {t.format for t in transcripts.values()}
    assert {"text", "docx", "vtt"} <= formats


def test_metadata_covers_every_transcript_and_nothing_else(corpus):
    transcripts, metadata = corpus
    assert set(metadata["doc_id"]) == set(transcripts)
    for t in transcripts.values():
        assert t.metadata["role"] in {"patient", "therapist"}


def test_interviews_have_the_briefed_length(corpus):
    transcripts, _ = corpus
    for doc_id, t in transcripts.items():
        words = len(t.text.split())
        if doc_id.startswith("FG"):
            assert words >= 2000, doc_id
            continue
        assert 25 <= len(t.turns) <= 70, (doc_id, len(t.turns))
        assert 600 <= words <= 2100, (doc_id, words)  # speaker labels add a few words


def test_table_one_recomputed_from_metadata(demo_dir):
    metadata = pd.read_csv(demo_dir / "metadata.csv")
    t1 = table_one(metadata[["doc_id", "participant", "role", "gender", "age", "education", "phq15",
                             "symptom_intensity", "main_symptoms", "n_sessions"]])
    cell = {(r.characteristic, r.level): r.value for r in t1.itertuples()}
    # the study's Table 1 (n=20)
    assert cell[("n", "")] == "20"
    assert cell[("gender", "male")].startswith("7 ") and cell[("gender", "female")].startswith("13 ")
    assert cell[("age", "mean (range)")] == "52 (24–80)"
    assert [cell[("education", k)].split()[0] for k in ("low", "average", "high")] == ["6", "6", "8"]
    assert cell[("phq15", "mean (range)")] == "14.8 (6–24)"
    assert cell[("symptom_intensity", "mean (range)")] == "6.3 (2–10)"
    assert cell[("n_sessions", "mean (range)")] == "9 (3–12)"
    symptoms = {k: int(cell[("main_symptoms", k)].split()[0]) for k in
                ("musculoskeletal", "pain", "difficulty breathing", "fatigue", "headache", "dizziness/nausea", "sleep")}
    assert symptoms == {"musculoskeletal": 13, "pain": 16, "difficulty breathing": 2, "fatigue": 7,
                        "headache": 5, "dizziness/nausea": 4, "sleep": 3}


def test_every_reference_span_is_verbatim(corpus, demo_dir):
    transcripts, _ = corpus
    reference = pd.read_csv(demo_dir / "codes" / "reference.csv", keep_default_na=False)
    assert set(reference["code"]) == {"alternation", "awareness", "alliance", "common_ground"}
    assert set(reference["doc_id"]) <= set(transcripts)
    for rec in reference.itertuples():
        assert transcripts[rec.doc_id].text[rec.start:rec.end] == rec.text, (rec.doc_id, rec.start)


def test_reference_spans_lie_in_participant_turns(corpus, demo_dir):
    transcripts, _ = corpus
    reference = pd.read_csv(demo_dir / "codes" / "reference.csv", keep_default_na=False)
    for rec in reference.itertuples():
        turns = [tu for tu in transcripts[rec.doc_id].turns if tu.start <= rec.start and rec.end <= tu.end]
        assert len(turns) == 1, (rec.doc_id, rec.start, rec.text[:40])
        assert turns[0].speaker not in {"Interviewer", "Moderator"}


def test_second_coder_covers_both_roles(demo_dir):
    reference = pd.read_csv(demo_dir / "codes" / "reference.csv", keep_default_na=False)
    second = reference[reference["coder"] == "B"]
    docs = set(second["doc_id"])
    assert len(docs) >= 10
    assert any(d.startswith("P") for d in docs) and any(d.startswith("T") for d in docs)


def test_corpus_is_small(demo_dir):
    size = sum(p.stat().st_size for p in demo_dir.rglob("*") if p.is_file())
    assert size < 5 * 2**20
