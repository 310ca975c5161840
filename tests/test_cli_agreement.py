"""``psythemes agree`` and ``psythemes evaluate`` through the CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from psythemes.cli import main


@pytest.fixture()
def kripp_csv(data_dir):
    return str(data_dir / "agreement" / "krippendorff2011.csv")


@pytest.mark.parametrize("level, published", [("nominal", "0.743"), ("ordinal", "0.815"), ("interval", "0.849")])
def test_agree_prints_published_alpha(kripp_csv, capsys, level, published):
    assert main(["agree", kripp_csv, "--metric", "alpha", "--level", level, "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert f"Krippendorff's alpha ({level}) = {published}" in out
    assert "95% CI" in out and "units with 2+ ratings: 11, coders: 4" in out


def test_agree_json(kripp_csv, capsys):
    assert main(["agree", kripp_csv, "--metric", "ac1", "--n-boot", "200", "--seed", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {"metric", "level", "value", "ci_low", "ci_high", "n_units"} <= set(record)
    assert record["metric"] == "ac1" and record["n_units"] == 11
    assert round(record["value"], 4) == 0.7754  # Gwet (2014) pp. 55-56
    assert record["ci_low"] <= record["value"] <= record["ci_high"]


def test_agree_undefined_is_null(tmp_path, capsys):
    table = tmp_path / "one.csv"
    table.write_text("id,a,b\n1,x,x\n2,x,x\n3,x,\n", encoding="utf-8")
    assert main(["agree", str(table), "--metric", "alpha", "--json"]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["value"] is None and record["ci_low"] is None and record["n_units"] == 2
    assert "warning:" in captured.err and "undefined" in captured.err


def test_agree_unit_column_detection(tmp_path, capsys):
    # no id header: the first column is a coder
    table = tmp_path / "coders.csv"
    table.write_text("r1,r2,r3\na,a,b\nb,b,b\na,a,a\n", encoding="utf-8")
    assert main(["agree", str(table), "--metric", "fleiss", "--n-boot", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_coders"] == 3
    assert main(["agree", str(table), "--metric", "fleiss", "--n-boot", "0", "--json", "--unit-column", "r1"]) == 0
    assert json.loads(capsys.readouterr().out)["n_coders"] == 2


def test_agree_weighted_cohen_and_ordinal_labels(tmp_path, capsys):
    table = tmp_path / "two.csv"
    table.write_text("unit,a,b\n1,low,low\n2,mid,high\n3,high,high\n4,low,mid\n5,mid,mid\n", encoding="utf-8")
    assert main(["agree", str(table), "--metric", "cohen", "--weights", "quadratic", "--n-boot", "0"]) == 0
    assert "Cohen's kappa (quadratic weights) =" in capsys.readouterr().out
    assert main(["agree", str(table), "--level", "ordinal", "--n-boot", "0"]) == 2
    assert "categories" in capsys.readouterr().err
    assert main(["agree", str(table), "--level", "ordinal", "--categories", "low,mid,high", "--n-boot", "0"]) == 0


def test_agree_reads_numbers_written_two_ways_beside_an_empty_cell(tmp_path, capsys):
    # SPSS writes 1.00 where another coder's column has 1; with one empty cell the table was read
    # as labels under pandas 3, "1" != "1.00", and kappa came out 0.000 instead of 1
    table = tmp_path / "spss.csv"
    table.write_text("unit,Ana,Ben\n1,1,1.00\n2,2,2.00\n3,1,1.00\n4,2,\n5,3,3.00\n", encoding="utf-8")
    assert main(["agree", str(table), "--metric", "cohen", "--n-boot", "0"]) == 0
    assert capsys.readouterr().out.splitlines() == ["Cohen's kappa = 1.000", "units with 2+ ratings: 4, coders: 2"]


def test_agree_reads_sets_of_codes_with_level_masi(tmp_path, capsys):
    # "a;b" cells were single labels without a word, and the CLI had no MASI
    from psythemes.agreement import alpha_masi

    table = tmp_path / "sets.csv"
    table.write_text("unit,Ana,Ben,Cleo\n1,a;b,b;a,a\n2,a,a,\n3,-,-,b\n4,b,b;c,b\n5,c,c,c\n", encoding="utf-8")
    assert main(["agree", str(table), "--n-boot", "0"]) == 0
    assert "use --level masi" in capsys.readouterr().err
    assert main(["agree", str(table), "--level", "masi", "--n-boot", "0", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = alpha_masi([[{"a", "b"}, {"a", "b"}, {"a"}], [{"a"}, {"a"}, None], [set(), set(), {"b"}],
                           [{"b"}, {"b", "c"}, {"b"}], [{"c"}, {"c"}, {"c"}]], n_boot=0)
    assert got["value"] == pytest.approx(expected.value) and got["level"] == "masi" and got["n_units"] == 5
    assert main(["agree", str(table), "--level", "masi", "--metric", "fleiss"]) == 2
    assert "use it with --metric alpha" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--metric", "cohen"], "exactly 2 coders"),
    (["--level", "nominal", "--weights", "linear"], "weights apply to Cohen"),
])
def test_agree_bad_options_exit_2(kripp_csv, capsys, args, message):
    assert main(["agree", kripp_csv, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err


def test_agree_bad_files_exit_2(tmp_path, capsys):
    assert main(["agree", str(tmp_path / "missing.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    single = tmp_path / "single.csv"
    single.write_text("id,a\n1,x\n", encoding="utf-8")
    assert main(["agree", str(single)]) == 2
    assert "at least 2 coder columns" in capsys.readouterr().err


def test_agree_imports_no_heavy_libraries(kripp_csv):
    code = (
        "import sys\nfrom psythemes.cli import main\n"
        f"rc = main(['agree', {kripp_csv!r}, '--metric', 'alpha', '--n-boot', '50'])\n"
        "print(rc, sorted(m for m in ('torch', 'sklearn', 'statsmodels', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"


def test_evaluate_command(data_dir, tmp_path, capsys):
    folder = data_dir / "agreement"
    out = tmp_path / "eval"
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
               "--segments", str(folder / "segments.csv"), "--out", str(out), "--n-boot", "100"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "common_ground" in captured.out and "micro F1 0.75" in captured.out
    assert "warning: 2 of 11 gold span(s) code no unit" in captured.err
    for name in ("agreement.json", "agreement.csv", "confusion.csv", "disagreements.csv"):
        assert (out / name).is_file()
    assert json.loads((out / "agreement.json").read_text(encoding="utf-8"))["summary"]["n_units"] == 7


def test_evaluate_needs_segments_or_says_which_units_it_scores(data_dir, tmp_path, capsys):
    folder = data_dir / "agreement"
    args = ["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"), "--n-boot", "0"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    assert "give --segments" in capsys.readouterr().err and not (tmp_path / "a").exists()
    assert main([*args, "--out", str(tmp_path / "b"), "--pred-units-only"]) == 0
    err = capsys.readouterr().err
    assert "warning: scored only the" in err and "units that have a machine code in --pred" in err


@pytest.mark.parametrize(("option", "value"), [("--n-boot", "-5"), ("--ci", "1.5"), ("--overlap", "0"),
                                              ("--consensus", "most")])
def test_evaluate_option_values_are_checked_before_any_work(data_dir, tmp_path, capsys, option, value):
    folder = data_dir / "agreement"
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
               "--segments", str(folder / "segments.csv"), "--out", str(tmp_path / "x"), option, value])
    err = capsys.readouterr().err
    assert rc == 2 and f"Invalid value for '{option}'" in err and not (tmp_path / "x").exists()


@pytest.mark.parametrize(("option", "value"), [("--n-boot", "-5"), ("--metric", "kappa"), ("--level", "nominalish"),
                                              ("--ci", "0")])
def test_agree_option_values_are_checked(option, value, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("id,A,B\n1,x,x\n2,y,x\n", encoding="utf-8")
    rc = main(["agree", str(table), option, value])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("Usage: psythemes agree") and f"Invalid value for '{option}'" in err


def test_evaluate_command_bad_input(data_dir, tmp_path, capsys):
    folder = data_dir / "agreement"
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
               "--segments", str(folder / "segments.csv"), "--out", str(tmp_path / "x"), "--codes",
               "alliance,awareness"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "'alternation' (line 4)" in err and "gold.csv" in err  # every unknown code, with its line
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "segments.csv"),
               "--segments", str(folder / "segments.csv"), "--out", str(tmp_path / "y")])
    assert rc == 2 and "lacks column" in capsys.readouterr().err


def test_evaluate_command_names_gold_codes_it_guessed_or_never_saw(data_dir, tmp_path, capsys):
    folder = data_dir / "agreement"
    gold = (folder / "gold.csv").read_text(encoding="utf-8")
    odd = tmp_path / "gold.csv"  # saved by Excel in a ';' locale, one code shouted, one misspelt
    odd.write_text(gold.replace(",", ";").replace(";alliance;A", ";ALLIANCE;A").replace("common_ground;B",
                                                                                         "comon_ground;B"),
                   encoding="utf-8-sig")
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(odd), "--segments",
               str(folder / "segments.csv"), "--out", str(tmp_path / "eval"), "--n-boot", "0"])
    assert rc == 0
    err = capsys.readouterr().err
    assert ("warning: gold.csv: 1 gold code label(s) are spelt otherwise than the code they were matched to "
            "(case, punctuation or spacing): gold 'ALLIANCE' taken as code 'alliance'\n") in err
    assert ("warning: 2 gold code(s) never occur among the machine codes: 'alternation', 'comon_ground' "
            "(did you mean 'common_ground'?)") in err
    codes = {row["code"] for row in json.loads((tmp_path / "eval" / "agreement.json").read_text())["per_code"]}
    assert codes == {"alliance", "alternation", "awareness", "common_ground", "comon_ground"}


def test_evaluate_checks_the_output_folder_before_any_work(data_dir, tmp_path, capsys):
    """An --out under a regular file is refused in one line, before the gold is read or scored."""
    folder = data_dir / "agreement"
    blocker = tmp_path / "afile"
    blocker.write_text("hi\n", encoding="utf-8")
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
               "--segments", str(folder / "segments.csv"), "--out", str(blocker / "ev"), "--n-boot", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    assert "gold span(s) code no unit" not in err  # refused before the evaluation ran
    assert blocker.read_text(encoding="utf-8") == "hi\n"


def test_evaluate_codes_may_be_separated_by_semicolons(tmp_path, capsys):
    """A code named "Work, pacing" cannot be listed comma-separated; ';' separates instead."""
    segs = tmp_path / "segments.csv"
    segs.write_text("doc_id,segment_id,start,end,text\nd,d:0-5,0,5,hello\nd,d:6-11,6,11,world\n", encoding="utf-8")
    pred = tmp_path / "codes.csv"
    pred.write_text('doc_id,segment_id,start,end,code,score\nd,d:0-5,0,5,"Work, pacing",0.9\n'
                    "d,d:6-11,6,11,Trust,0.8\n", encoding="utf-8")
    gold = tmp_path / "gold.csv"
    gold.write_text('doc_id,start,end,code\nd,0,5,"Work, pacing"\nd,6,11,Trust\n', encoding="utf-8")
    rc = main(["evaluate", "--pred", str(pred), "--gold", str(gold), "--segments", str(segs), "--n-boot", "0",
               "--codes", "Work, pacing;Trust", "--out", str(tmp_path / "ev")])
    assert rc == 0, capsys.readouterr().err
    per_code = json.loads((tmp_path / "ev" / "agreement.json").read_text(encoding="utf-8"))
    assert "Work, pacing" in json.dumps(per_code)


def test_evaluate_takes_its_code_list_and_order_from_a_codebook(data_dir, tmp_path, capsys):
    """Without a code list the codes come alphabetically; --codebook gives the researcher's order."""
    folder = data_dir / "agreement"
    args = ["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
            "--segments", str(folder / "segments.csv"), "--n-boot", "0"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--codebook", "psychosomatic"]) == 0
    order = [pd.read_csv(tmp_path / run / "agreement.csv")["code"].tolist() for run in ("a", "b")]
    assert order == [["alliance", "alternation", "awareness", "common_ground"],
                     ["alternation", "awareness", "alliance", "common_ground"]]
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "c"), "--codebook", "psychosomatic", "--codes", "alliance"]) == 2
    assert "--codebook and --codes both give the code list" in capsys.readouterr().err


def test_a_misspelt_codes_entry_is_named(data_dir, tmp_path, capsys):
    # the error blamed the first gold code outside the list, never the misspelt entry behind it
    folder = data_dir / "agreement"
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(folder / "gold.csv"),
               "--segments", str(folder / "segments.csv"), "--out", str(tmp_path / "x"), "--n-boot", "0",
               "--codes", "alliance,alternation,awarenes,common_ground"])
    err = capsys.readouterr().err
    assert rc == 2 and "note: --codes lists 'alternation', 'awarenes', which no machine code uses (misspelt?)" in err
    assert "is not in the --codes list" in err and "not in the codebook" not in err
