"""``pseudonymise --restore`` gives each original file back byte for byte (line ends and BOM
included) where it can, says where it cannot, and warns about a file edited since."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from psythemes.cli import main
from psythemes.errors import PsythemesWarning
from psythemes.io import read_transcripts
from psythemes.pseudonymise import PseudonymKey, restore_text

# loads the spaCy model through Presidio
pytestmark = pytest.mark.slow

TEXT = ("Interviewer: Who helped you most?\n"
        "Dave: My physio, Margaret Thornbury, at Leeds General Infirmary.\n"
        "Interviewer: And Margaret?\n"
        "Dave: Margaret Thornbury rang me every week. Søren came too.\n")
LATER = "Dave: Søren Lindqvist is my brother, he drove me to Harrogate.\n"



def _text(part: int) -> str:
    return TEXT + f"Interviewer: Thank you, that was part {part}.\n"


# file name -> bytes: each newline convention, a BOM, a cp1252 file (comes back as UTF-8), and
# two copies of one interview with different line ends (their file's form is ambiguous)
ORIGINALS = {
    "lf.txt": _text(1).encode("utf-8"),
    "crlf.txt": _text(2).replace("\n", "\r\n").encode("utf-8"),
    "bom_crlf.txt": b"\xef\xbb\xbf" + (_text(3) + LATER).replace("\n", "\r\n").encode("utf-8"),
    "cr.txt": _text(4).replace("\n", "\r").encode("utf-8"),
    "latin.txt": _text(5).replace("Søren", "Sören").replace("\n", "\r\n").encode("cp1252"),
    "twin_lf.txt": _text(6).encode("utf-8"),
    "twin_crlf.txt": _text(6).replace("\n", "\r\n").encode("utf-8"),
}


@pytest.fixture(scope="module")
def pseudonymised(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The originals, their pseudonymised copies and the key."""
    root = tmp_path_factory.mktemp("restore")
    src = root / "in"
    src.mkdir()
    for name, data in ORIGINALS.items():
        (src / name).write_bytes(data)
    key = root / "private" / "study.key.json"
    assert main(["pseudonymise", str(src), "--out", str(root / "pseudo"), "--key", str(key)]) == 0
    return src, root / "pseudo", key


def test_restore_gives_the_original_bytes_back(pseudonymised, tmp_path, capsys):
    src, pseudo, key = pseudonymised
    capsys.readouterr()
    back = tmp_path / "back"
    assert main(["pseudonymise", "--restore", "--key", str(key), str(pseudo), "--out", str(back)]) == 0
    console = capsys.readouterr()
    for name in ("lf.txt", "crlf.txt", "bom_crlf.txt", "cr.txt"):
        assert (back / name).read_bytes() == ORIGINALS[name], name
    assert "4 transcripts exactly, 3 as normalised text" in console.out
    # the cp1252 file and the copies come back as the text psythemes read (UTF-8, LF), and the
    # console names them
    assert (back / "latin.txt").read_bytes() == _text(5).replace("Søren", "Sören").encode("utf-8")
    assert (back / "twin_crlf.txt").read_bytes() == (back / "twin_lf.txt").read_bytes() == ORIGINALS["twin_lf.txt"]
    warned = [line for line in console.err.splitlines() if "3 transcripts restored as normalised text" in line]
    assert len(warned) == 1 and all(name in warned[0] for name in ("latin.txt", "twin_lf.txt", "twin_crlf.txt"))
    assert "/crlf.txt" not in console.err and "changed since" not in console.err
    assert "Margaret" not in console.out + console.err  # messages name files, never words


def test_pseudonymised_files_keep_the_normalised_text_offsets_refer_to(pseudonymised):
    src, pseudo, key = pseudonymised
    documents = PseudonymKey.load(key).documents
    assert documents["crlf"]["source"] == {"bom": False, "newline": "\r\n"}
    assert documents["bom_crlf"]["source"] == {"bom": True, "newline": "\r\n"}
    assert documents["lf"]["source"] == {"bom": False, "newline": "\n"}
    assert documents["latin"]["source"] is None
    # the pseudonymised files are LF text without BOM, the text every offset refers to: read back,
    # each is the text the key recorded, and the same for every newline convention
    texts = {t.doc_id: t.text for t in read_transcripts([pseudo])}
    assert texts["twin_lf"] == texts["twin_crlf"]
    assert texts["crlf"].replace("part 2", "part 4") == texts["cr"]
    assert b"\r" not in (pseudo / "bom_crlf.txt").read_bytes()
    assert not (pseudo / "bom_crlf.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    loaded = PseudonymKey.load(key)
    # from Python: as_source=False gives the normalised original, the default the file's form
    assert restore_text(texts["crlf"], loaded, as_source=False) == _text(2)
    assert restore_text(texts["crlf"], loaded) == _text(2).replace("\n", "\r\n")
    # told which copy it is, the twin comes back in its own file's form
    assert restore_text(texts["twin_crlf"], loaded, doc_id="twin_crlf") == _text(6).replace("\n", "\r\n")
    assert restore_text(texts["twin_crlf"], loaded) == _text(6)


def test_an_edited_file_is_restored_with_a_warning_naming_it(pseudonymised, tmp_path, capsys):
    src, pseudo, key = pseudonymised
    edited = tmp_path / "edited"
    edited.mkdir()
    for path in pseudo.iterdir():
        (edited / path.name).write_bytes(path.read_bytes())
    text = (edited / "bom_crlf.txt").read_text(encoding="utf-8")
    (edited / "bom_crlf.txt").write_text(text.replace(" is my brother", " is my big brother"), encoding="utf-8")
    capsys.readouterr()
    back = tmp_path / "back"
    assert main(["pseudonymise", "--restore", "--key", str(key), str(edited), "--out", str(back), "-q"]) == 0
    assert main(["pseudonymise", "--restore", "--key", str(key), str(edited), "--out", str(back)]) == 0
    console = capsys.readouterr()
    warned = [line for line in console.err.splitlines() if "changed since it was pseudonymised" in line]
    assert len(warned) == 1 and "bom_crlf.txt" in warned[0] and "approximately" in warned[0]
    assert "1 changed since pseudonymised (approximately)" in console.out
    # the others still come back exactly
    assert (back / "crlf.txt").read_bytes() == ORIGINALS["crlf.txt"]
    # from Python, restore_text warns too when told which document the text is
    with pytest.warns(PsythemesWarning, match="document 'bom_crlf': changed since"):
        restore_text((edited / "bom_crlf.txt").read_text(encoding="utf-8"), PseudonymKey.load(key),
                     doc_id="bom_crlf")


def test_a_key_from_before_layouts_were_recorded_still_restores(pseudonymised, tmp_path, capsys):
    src, pseudo, key = pseudonymised
    data = json.loads(key.read_text(encoding="utf-8"))
    for doc in data["documents"].values():
        del doc["source"]
    old = tmp_path / "old.key.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    back = tmp_path / "back"
    assert main(["pseudonymise", "--restore", "--key", str(old), str(pseudo), "--out", str(back)]) == 0
    console = capsys.readouterr()
    assert (back / "lf.txt").read_bytes() == ORIGINALS["lf.txt"]
    assert (back / "crlf.txt").read_bytes() == _text(2).encode("utf-8")  # as before: LF
    assert "7 transcripts restored as normalised text" in console.err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert restore_text((pseudo / "lf.txt").read_text(encoding="utf-8"), PseudonymKey.load(old)) == _text(1)
