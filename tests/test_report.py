"""HTML report: Table 1, self-containment, and a real headless-browser load."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from psythemes.report import ReportData, render_report, table_one, write_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def metadata() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "doc_id": ["P1-W1", "P1-W2", "P2-W1", "P3-W1", "T1"],
            "participant": ["P1", "P1", "P2", "P3", "T1"],
            "role": ["patient", "patient", "patient", "patient", "therapist"],
            "wave": [1, 2, 1, 1, 1],
            "gender": ["female", "female", "male", "female", "male"],
            "age": [30, 30, 50, 70, 44],
            "main_symptoms": ["pain;fatigue", "pain;fatigue", "pain", "headache", ""],
        }
    )


def test_table_one_counts_participants_once_and_splits_multi_values(metadata):
    t1 = table_one(metadata)
    cell = {(r.characteristic, r.level): r.value for r in t1.itertuples()}
    assert cell[("n", "")] == "3"  # three patients; the therapist and P1's second wave do not count
    assert cell[("gender", "female")] == "2 (67%)"
    assert cell[("gender", "male")] == "1 (33%)"
    assert cell[("age", "mean (range)")] == "50 (30–70)"
    assert cell[("main_symptoms", "pain")] == "2 (67%)"
    assert cell[("main_symptoms", "headache")] == "1 (33%)"
    # what the reader stores beside the metadata (a speaker -> role map) is no characteristic
    stored = metadata.assign(speaker_roles=[{"Onderzoeker": "interviewer"}, {}, {}, {}, {}],
                             note=[{"x": 1}, None, None, None, None])
    assert not set(table_one(stored)["characteristic"]) & {"speaker_roles", "note"}


@pytest.fixture()
def report_data(metadata) -> ReportData:
    segments = pd.DataFrame(
        {
            "doc_id": ["P1-W1", "P1-W1", "T1"],
            "segment_id": ["P1-W1:0-10", "P1-W1:11-30", "T1:0-20"],
            "speaker": ["P1", "P1", "T1"],
            "role": ["patient", "patient", "therapist"],
            "start": [0, 11, 0], "end": [10, 30, 20],
            "text": ["She listened <b>", "My neck & shoulders", "We alternate talking"],
            "t_start": [None] * 3, "t_end": [None] * 3,
        }
    )
    themes = pd.DataFrame(
        {
            "theme_id": [0, 1], "label": ["listening · trust", "neck · shoulders"],
            "keywords": ["listening, trust", "neck, shoulders"], "size": [2, 1],
            "share_patient": [0.5, 1.0], "share_therapist": [0.5, 0.0],
            "top_quotes": ['[{"text": "She listened <b>", "doc_id": "P1-W1", "start": 0, "end": 10}]', ""],
        }
    )
    codes = pd.DataFrame(
        {"doc_id": ["P1-W1", "T1"], "segment_id": ["P1-W1:0-10", "T1:0-20"], "start": [0, 0], "end": [10, 20],
         "code": ["alliance", "alternation"], "score": [0.7, 0.6], "method": ["zero-shot"] * 2}
    )
    agreement = pd.DataFrame({"code": ["alliance", "alternation"], "kappa": [0.6, float("nan")],
                              "prevalence": [0.3, 0.1]})
    confusion = pd.DataFrame({"machine": ["alliance", "none"], "alliance": [3, 1], "none": [2, 10]})
    disagreements = pd.DataFrame({"text": ["My neck & shoulders"], "machine_codes": [""], "gold_codes": ["awareness"]})
    theme_codes = pd.DataFrame({"theme_id": [0, 1], "best_code": ["alliance", ""], "score_alliance": [0.8, 0.1],
                                "score_awareness": [0.2, 0.4]})
    return ReportData(
        title="Demo <run>", segments=segments, metadata=metadata, themes=themes, codes=codes,
        agreement=agreement, confusion=confusion, disagreements=disagreements, theme_codes=theme_codes,
        summary={"outlier_share": 0.25, "kappa": 0.55}, manifest={"model": "all-MiniLM-L6-v2", "seed": 0},
    )


def test_report_is_self_contained_and_escaped(report_data):
    page = render_report(report_data)
    assert page.startswith("<!DOCTYPE html>")
    # no external resources of any kind
    assert not re.search(r"""(src|href)\s*=\s*['"](https?:)?//""", page)
    assert "<script" not in page and "<link" not in page
    # user text is escaped, never interpreted
    assert "She listened &lt;b&gt;" in page and "Demo &lt;run&gt;" in page
    for section in ("Corpus overview", "Table 1", "Candidate themes", "Codebook and code frequencies",
                    "Themes mapped to codes", "Agreement with gold codes", "Top disagreements"):
        assert section in page
    assert page.count("data:image/png;base64,") >= 3  # code frequencies, theme map, confusion


def test_report_sections_are_optional():
    page = render_report(ReportData(title="empty"))
    assert "Candidate themes" not in page and "Agreement" not in page


def test_report_opens_in_headless_chromium_without_console_messages(tmp_path, report_data):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (make test installs Debian's chromium when it can)")
    page = write_report(tmp_path / "report.html", report_data)
    artifacts = ROOT / "results" / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", "--window-size=1280,2400", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # the page has no script: any console line is an error (e.g. a failed load)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_figure_cache_gives_the_same_page_without_drawing_again(tmp_path, report_data, monkeypatch):
    from psythemes import report as report_mod

    cache = tmp_path / "figures"
    first = render_report(report_data, figure_cache=cache)
    assert first == render_report(report_data)  # the cache changes nothing on the page
    entries = sorted(cache.iterdir())
    assert len(entries) == first.count("data:image/png;base64,")

    def forbidden(draw):
        @functools.wraps(draw)  # same name: the same cache key
        def no_drawing(*args, **kwargs):
            raise AssertionError("drew a figure that was in the cache")

        return no_drawing

    monkeypatch.setattr(report_mod, "_bar_by_role", forbidden(report_mod._bar_by_role))
    monkeypatch.setattr(report_mod, "_heatmap", forbidden(report_mod._heatmap))
    assert render_report(report_data, figure_cache=cache) == first
    # other data, other figures: a changed confusion table is drawn again, the rest is reused
    monkeypatch.undo()
    changed = ReportData(**{**report_data.__dict__, "confusion": report_data.confusion.assign(none=[2, 11])})
    render_report(changed, figure_cache=cache)
    assert len(list(cache.iterdir())) == len(entries) + 1
    # a damaged entry is drawn again, not shown broken
    entries[0].write_text("data:image/png;base64,not-a-png", encoding="ascii")
    assert render_report(report_data, figure_cache=cache) == first


def test_numbers_are_formatted_as_counts_shares_or_two_decimals():
    from psythemes.report import fmt_number, fmt_share

    assert [fmt_number(v) for v in (1273.0, 1273, 0.3083, 5.0, float("nan"), None)] == \
        ["1,273", "1,273", "0.31", "5.00", "", ""]
    assert [fmt_share(v) for v in (0.3812, 0.004, 0.0, 1.0)] == ["38%", "0.4%", "0%", "100%"]


def test_first_section_puts_machine_beside_coders(report_data):
    data = report_data
    data.agreement = pd.DataFrame({"code": ["alliance", "alternation"], "kappa": [0.27, 0.47],
                                   "kappa_ci_low": [0.21, 0.39], "kappa_ci_high": [0.33, 0.54],
                                   "prevalence": [0.14, 0.10], "f1": [0.40, 0.51]})
    data.human_baseline = pd.DataFrame({"comparison": ["human-human"] * 2, "code": ["alliance", "alternation"],
                                        "kappa": [0.88, 0.62], "kappa_ci_low": [0.78, 0.41],
                                        "kappa_ci_high": [0.96, 0.78]})
    data.summary = {"outlier_share": 0.38, "alpha_masi": 0.28, "alpha_masi_ci_low": 0.25, "alpha_masi_ci_high": 0.30,
                    "human_alpha_masi": 0.73, "human_alpha_masi_ci_low": 0.68, "human_alpha_masi_ci_high": 0.79}
    page = render_report(data)
    first = page[page.index("<section"):page.index("</section>")]
    assert first.startswith("<section id='trust'>")
    assert "0.27 <span class='muted ci'>[0.21, 0.33]</span>" in first  # machine
    assert "0.88 <span class='muted ci'>[0.78, 0.96]</span>" in first  # coders, same row
    assert first.index("0.27") < first.index("0.88") < first.index("0.47")
    assert "0.28 <span class='muted ci'>[0.25, 0.30]</span>" in first and "0.73" in first
    assert "38%" in first and "data:image/png;base64," in first  # outliers; forest plot
    assert "href='agreement.csv'" not in page  # not beside the run's files: no links
    data.link_files = True
    assert "href='agreement.csv'" in render_report(data)
    assert "one value" not in first  # no interval of one value here
    # the humans' statistic, coders and reference are named; an interval of one value is explained
    data.summary = {**data.summary, "coders": ["Ana", "Ben", "Cleo"], "consensus": "majority"}
    data.agreement.loc[1, ["kappa", "kappa_ci_low", "kappa_ci_high"]] = [1.0, 1.0, 1.0]
    page = render_report(data)
    assert ("reference (the majority of the coders who coded the document), beside Fleiss&#x27; κ of the 3 "
            "coders (Ana, Ben and Cleo) on the units two or more of them coded") in page
    assert "An interval of one value (such as [1.00, 1.00])" in page


def test_without_gold_the_first_screen_says_so():
    page = render_report(ReportData(title="t", summary={"n_themes": 3}))
    assert "cannot say how far its codes can be trusted" in page


def test_add_section_extends_the_report(report_data, monkeypatch):
    from psythemes import report as report_mod

    monkeypatch.setattr(report_mod, "SECTIONS", list(report_mod.SECTIONS))

    def _saturation_section(data, ctx):
        return report_mod.Section("saturation", "Saturation", "<p>new codes per interview</p>")

    report_mod.add_section(_saturation_section, after="_themes_section")
    page = render_report(report_data)
    assert page.index("id='themes'") < page.index("id='saturation'") < page.index("id='codebook'")
    assert "<a href='#saturation'>Saturation</a>" in page


def test_wave_shares_within_one_role_when_a_role_occurs_in_one_wave(report_data):
    """The demo's therapists are all in wave 1: shares by wave would mix wave and role."""
    data = report_data
    data.segments = pd.DataFrame({
        "doc_id": ["P1-W1", "P1-W1", "P1-W2", "P1-W2", "T1", "T1"],
        "segment_id": [f"s{i}" for i in range(6)],
        "role": ["patient"] * 4 + ["therapist"] * 2, "text": ["a b"] * 6,
        "speaker": ["P1"] * 4 + ["T1"] * 2, "start": [0] * 6, "end": [3] * 6})
    data.segment_themes = pd.DataFrame({"segment_id": [f"s{i}" for i in range(6)], "theme_id": [0, 1, 0, -1, 1, 1]})
    page = render_report(data)
    assert "by wave (patient only)" in page
    assert "wave 1 50% · wave 2 50%" in page  # theme 0: one of two patient segments in each wave
    assert "Every therapist document lies in one wave" in page


def test_codebook_section_marks_headings_that_are_never_assigned():
    from psythemes.codebook import codebook_from_dict

    book = codebook_from_dict({"codes": [{"name": "STRATEGIES", "definition": "Support strategies.", "codable": False,
                                          "children": [{"name": "Question", "definition": "Asking."}]}]})
    page = render_report(ReportData(title="t", codebook=book))
    assert "(heading: groups the codes below it, never assigned) Support strategies." in page
    assert "never assigned) Asking." not in page


def test_table_one_says_what_the_metadata_lacks(report_data):
    """Participant, role and wave only: the patients are counted, not called missing."""
    import dataclasses

    bare = pd.DataFrame({"doc_id": ["P1-W1", "P2-W1", "T1"], "participant": ["P1", "P2", "T1"],
                         "role": ["patient", "patient", "therapist"], "wave": [1, 1, 1]})
    page = render_report(dataclasses.replace(report_data, metadata=bare))
    assert "2 participant(s) (patient); the metadata has no characteristics" in page
    assert "Table 1a. Participant characteristics (patient)" in page  # one table per role
    assert "Table 1b. Participant characteristics (therapist)" in page
    # a stranger's study: roles written "Patient" and "carer" gave n = 0 ("no document of role 'patient'")
    theirs = bare.assign(role=["Patient", "patient", "carer"], age=[40, 50, 60])
    page = render_report(dataclasses.replace(report_data, metadata=theirs))
    assert "Table 1a. Participant characteristics (Patient)" in page and "45 (40–50)" in page
    assert "Table 1b. Participant characteristics (carer)" in page and "60 (60–60)" in page
    page = render_report(dataclasses.replace(report_data, metadata=bare.drop(columns="role")))
    assert "Table 1. Participant characteristics</h3>" in page  # no role column: everyone
    # a moderator is the interviewer's side; a name column is never listed, however few or repeated
    staff = bare.assign(role=["patient", "patient", "Moderator"], full_name=["Mary Jones", "Ann Lee", "Jo Hart"],
                        interviewed_by=["Dr Jane Smith"] * 3)
    page = render_report(dataclasses.replace(report_data, metadata=staff))
    assert "Moderator" not in page and "Mary Jones" not in page and "Jane Smith" not in page
    assert "Not in Table 1: full_name, interviewed_by" in page


def test_run_table_describes_parts_without_cache_folders():
    """The report's run table names what changes results, not where the user's cache lives."""
    from pathlib import Path

    from psythemes.config import describe_part

    settings = {"class": "ThemeDiscoverer", "memory": Path.home() / ".cache" / "psythemes" / "themes",
                "n_runs": 3}
    text = describe_part("discoverer", settings)
    assert text == "ThemeDiscoverer(n_runs=3)" and "PosixPath" not in text and str(Path.home()) not in text


def test_table_one_counts_what_is_not_given_and_names_group_documents(report_data):
    """A stranger's study: 4 focus groups (no age or gender in their metadata row) and 10
    interviews. Table 1 said "n 14" and "gender F 6 (43%)" without a word about either."""
    import dataclasses

    meta = pd.DataFrame({"doc_id": ["FG1", "P1-W1", "P2-W1"], "participant": ["FG1", "P1", "P2"],
                         "role": ["patient"] * 3, "gender": [None, "F", "M"], "age": [None, 40, 50]})
    cell = {(r.characteristic, r.level): r.value for r in table_one(meta).itertuples()}
    assert cell[("gender", "F")] == "1 (33%)" and cell[("gender", "not given")] == "1 (33%)"
    # rounded half up, as papers round (12.5 % was 12 %); interview dates are no characteristic
    eight = pd.DataFrame({"participant": [f"P{i}" for i in range(8)], "role": ["patient"] * 8,
                          "gender": ["F"] + ["M"] * 7, "age": [46.25] * 8,
                          "Interview date": [f"2021-01-0{i + 1}" for i in range(8)]})
    cells = {(r.characteristic, r.level): r.value for r in table_one(eight).itertuples()}
    assert cells[("gender", "F")] == "1 (13%)" and cells[("gender", "M")] == "7 (88%)"
    assert cells[("age", "mean (range)")] == "46.3 (46.3–46.3)"
    assert not any(c == "Interview date" for c, _ in cells)
    assert cell[("age", "mean (range), of 2")] == "45 (40–50)" and cell[("age", "not given")] == "1 (33%)"
    group = pd.DataFrame({"doc_id": ["FG1"] * 4, "segment_id": [f"FG1:{i}-{i + 1}" for i in range(4)],
                          "speaker": ["MODERATOR", "Ann", "Ben", "Cleo"],
                          "role": ["interviewer", "patient", "patient", "patient"], "start": range(4),
                          "end": range(1, 5), "text": ["a", "b", "c", "d"], "t_start": [None] * 4,
                          "t_end": [None] * 4})
    page = render_report(dataclasses.replace(report_data, metadata=meta,
                                             segments=pd.concat([report_data.segments, group], ignore_index=True),
                                             set_aside={"interviewer": 7, "backchannel": 2}))
    assert "1 document(s) hold several participants&#x27; turns (FG1: 3 speakers in all)" in page or \
        "1 document(s) hold several participants' turns (FG1: 3 speakers in all)" in page
    assert "Left out of themes and codes: 7 interviewer turns, 2 backchannels" in page


def test_table_one_leaves_out_names_and_free_text(report_data):
    """A 'name' or 'notes' column listed every participant's name or note as a level of Table 1."""
    import dataclasses

    meta = pd.DataFrame({"doc_id": [f"P{i}" for i in range(5)], "participant": [f"P{i}" for i in range(5)],
                         "role": ["patient"] * 5, "name": ["Ann Lee", "Bo Kim", "Cy Day", "Di Fox", "Ed Roe"],
                         "symptoms": ["pain; sleep", "pain", "sleep; fatigue", "pain; fatigue", "fatigue"],
                         "gender": ["F", "M", "F", "F", "M"]})
    t1 = table_one(meta)
    assert t1.attrs["left_out"] == ["name"] and "Ann Lee" not in set(t1["level"])
    assert {"symptoms", "gender"} <= set(t1["characteristic"])  # repeated levels: a characteristic
    # five different occupations in a small study are a characteristic, not free text
    jobs = meta.assign(occupation=["nurse", "driver", "teacher", "cook", "clerk"])
    assert "occupation" in set(table_one(jobs)["characteristic"])
    page = render_report(dataclasses.replace(report_data, metadata=meta))
    assert "Not in Table 1: name (a different text for every participant" in page and "Ann Lee" not in page
