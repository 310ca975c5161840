"""``extract --pseudonymise`` on demo transcripts with planted identifiers: none of them
reaches any output (tables, report, .qdpx, manifest), the caches or the console."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from psythemes.cli import main

pytestmark = pytest.mark.slow

DOCS = ("P01-W1", "P02-W1", "P03-W2", "P04-W1", "P05-W1", "P06-W1")
# (what is planted, kind); Beatrix is only in the researcher's --names list
PLANTED = ("Margaret Thornbury", "Thornbury", "Rajesh Patel", "Harrogate", "Beatrix", "Oliver Hughes",
           "m.thornbury@example.com", "07700 900461", "17 August 2021", "MRN 4471203")
INSIDE_GOLD = " I told Margaret Thornbury in Harrogate about it, and Rajesh Patel too."
AT_END = ("Interviewer: Anything else?\n"
          "P0X: Beatrix came on 17 August 2021. Write to m.thornbury@example.com or ring 07700 900461, "
          "my number there is MRN 4471203.\n"
          "Oliver Hughes: And I'm Oliver Hughes, her husband. Margaret Thornbury sends her regards.\n")


@pytest.fixture(scope="module")
def planted(demo_dir: Path, tmp_path_factory) -> Path:
    """Six demo transcripts with names planted inside gold spans (gold offsets moved) and after them."""
    root = tmp_path_factory.mktemp("planted")
    (root / "in").mkdir()
    gold = pd.read_csv(demo_dir / "codes" / "reference.csv")
    gold = gold[gold["doc_id"].isin(DOCS)].drop(columns=["text"]).reset_index(drop=True)
    for doc in DOCS:
        text = (demo_dir / "transcripts" / f"{doc}.txt").read_text(encoding="utf-8")
        rows = gold.index[gold["doc_id"] == doc]
        # plant just before the end of the first gold span, so the span must follow it
        at = int(gold.loc[rows[0], "end"]) - 1
        text = text[:at] + INSIDE_GOLD + text[at:]
        for i in rows:
            for col in ("start", "end"):
                if int(gold.loc[i, col]) > at:
                    gold.loc[i, col] = int(gold.loc[i, col]) + len(INSIDE_GOLD)
        text = text.rstrip("\n") + "\n" + AT_END.replace("P0X", doc.split("-")[0])
        (root / "in" / f"{doc}.txt").write_text(text, encoding="utf-8")
    gold.to_csv(root / "gold.csv", index=False)
    meta = pd.read_csv(demo_dir / "metadata.csv")
    meta[meta["doc_id"].isin(DOCS)].to_csv(root / "metadata.csv", index=False)
    (root / "names.txt").write_text("Beatrix\n", encoding="utf-8")
    return root


def _every_text(folder: Path) -> dict[str, str]:
    """Each file under ``folder`` as text; tables and archives opened, so compression hides nothing."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.suffix == ".parquet":
            out[name] = pd.read_parquet(path).to_csv()
        elif path.suffix in (".qdpx", ".zip") or zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    out[f"{name}!{member}"] = archive.read(member).decode("utf-8", "replace")
        else:
            out[name] = path.read_bytes().decode("utf-8", "replace")
    return out


def test_no_planted_identifier_reaches_any_output_cache_or_log(planted, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PSYTHEMES_CACHE", str(cache))
    out, key = tmp_path / "out", tmp_path / "private" / "P07_smith.key.json"
    args = ["extract", str(planted / "in"), "--out", str(out), "--metadata", str(planted / "metadata.csv"),
            "--gold", str(planted / "gold.csv"), "--codebook", "psychosomatic", "--preset", "fast", "--n-boot", "20",
            "--pseudonymise", "--pseudonym-key", str(key), "--names", str(planted / "names.txt")]
    # as from the console script, so that the manifest records the command line
    monkeypatch.setattr("sys.argv", [str(tmp_path / "bin" / "psythemes"), *args])
    rc = main(args)
    console = capsys.readouterr()
    assert rc == 0, console.err
    texts = _every_text(out)
    assert {"report.html", "segments.csv", "codes.csv", "theme_codes.csv", "disagreements.csv", "manifest.json",
            "transcripts.jsonl"} <= set(texts)
    assert any(name.startswith("project.qdpx!") for name in texts)
    cached = _every_text(cache)
    assert cached, "the run wrote no cache: the check below would prove nothing"
    seen = {**texts, **{f"cache/{k}": v for k, v in cached.items()}, "stdout": console.out, "stderr": console.err}
    for original in PLANTED:
        leaks = [name for name, text in seen.items() if original.lower() in text.lower()]
        assert not leaks, f"{original!r} in {leaks}"
    # the planted words were there to be found, and are now surrogates the key can undo
    segments = pd.read_csv(out / "segments.csv")
    assert segments["text"].str.contains(r"\bPERSON_\d+\b").any()
    assert "PERSON_" in texts["transcripts.jsonl"] and "EMAIL_1" in texts["transcripts.jsonl"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    surrogates = json.loads(key.read_text(encoding="utf-8"))["surrogates"]
    assert {"Margaret Thornbury", "Beatrix", "m.thornbury@example.com"} <= {v["original"] for v in surrogates.values()}
    # nothing written (outputs, workbook and .qdpx members, caches) points at the key: not its
    # path, folder or file name, not even in the recorded command line
    pointers = (str(key), str(key.parent), key.name, key.stem)
    assert not [name for name, text in seen.items() if name not in ("stdout", "stderr")
                and any(p in text for p in pointers)]
    manifest = json.loads(texts["manifest.json"])
    assert "--pseudonym-key <key>" in manifest["command"]
    assert manifest["options"]["pseudonymised"]["PERSON"] > 0
    # gold spans moved with the text: every one still lies inside its transcript, and the
    # evaluation ran on them
    agreement = pd.read_csv(out / "agreement.csv")
    assert not agreement.empty
