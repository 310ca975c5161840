"""``psythemes map``, ``psythemes train`` and ``psythemes codebook``: codes for segments (see psythemes.mapping)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Literal

import typer

from ._app import QDPX_POSITIONS_HELP, add_group, app, comma_list, print_warning, warnings_as_lines, working

codebook_app = add_group("codebook", "Check and convert codebooks (YAML, CSV/Excel/Word tables, REFI-QDA .qdc).")


@app.command("map")
def map_command(
    segments: Annotated[Path, typer.Argument(help="segments.csv from 'psythemes segment'.", show_default=False,
                                             metavar="SEGMENTS_CSV")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False, metavar="DIR")],
    codebook: Annotated[str | None, typer.Option(
        help="Codebook file (.yaml/.csv/.tsv/.xlsx/.docx/.qdc/.qdpx), or 'psychosomatic' for the shipped study "
             "codebook. Required unless --model gives the model's own.", show_default=False,
        metavar="FILE|NAME")] = None,
    method: Annotated[Literal["zero-shot", "few-shot"], typer.Option(help="zero-shot or few-shot.")] = "zero-shot",
    train: Annotated[Path | None, typer.Option(
        help="Gold codes (CSV doc_id,start,end,code[,coder], a table of quotes, .qdpx or a filled-in review "
             "sheet) to train a few-shot mapper on these segments.",
        metavar="FILE")] = None,
    model: Annotated[Path | None, typer.Option(
        help="Folder of a mapper saved by 'psythemes train'.", metavar="DIR")] = None,
    themes: Annotated[Path | None, typer.Option(
        help="Folder with themes.csv and segment_themes.csv from 'psythemes themes'; writes theme_codes.csv.",
        metavar="DIR")] = None,
    threshold: Annotated[str, typer.Option(
        help="Zero-shot threshold: auto or a number.", metavar="auto|NUMBER")] = "auto",
    max_codes: Annotated[int | None, typer.Option(min=1, help="At most this many codes per segment.")] = None,
    self_training: Annotated[Literal["auto", "on", "off"], typer.Option(
        help="Zero-shot, codes without examples: self-train on the corpus (auto: from 500 segments; see "
             "docs/mapping.md).")] = "auto",
    single_label: Annotated[bool | None, typer.Option(
        "--single-label/--multi-label",
        help="Every segment gets exactly its best code (--single-label), or any number incl. none (zero-shot "
             "self-trained on the corpus, as for codes without examples: at most one; see docs/mapping.md). "
             "Default: multi-label for zero-shot; few-shot infers it from the gold.", show_default=False)] = None,
    roles: Annotated[str | None, typer.Option(
        help="Zero-shot: code only segments of these roles, comma-separated (e.g. therapist); others get no code. "
             "Few-shot infers the roles from the gold.", metavar="ROLE,...")] = None,
    keep_interviewer: Annotated[bool, typer.Option(
        "--keep-interviewer", help="Zero-shot: code interviewer turns too (left uncoded by default, as in extract; "
                                   "also kept when --roles names the interviewer role).")] = False,
    keep_backchannels: Annotated[bool, typer.Option(
        "--keep-backchannels", help="Zero-shot: code backchannels ('mm-hmm', 'yeah') too (left uncoded by "
                                    "default).")] = False,
    qdpx_positions: Annotated[Literal["auto", "utf16", "codepoints"], typer.Option(
        help=QDPX_POSITIONS_HELP)] = "auto",
    jobs: Annotated[int, typer.Option(
        "--jobs", help="Processes for the few-shot mapper's cross-validation fits (-1: every core); the model is "
                       "the same whatever the number.")] = 1,
) -> None:
    """Assign codebook codes to segments; write DIR/codes.csv (and DIR/theme_codes.csv with --themes)."""
    from ..defaults import NO_CODEBOOK
    from ..errors import InputError
    from ..jobs import map_segments_to_files

    if codebook is None and model is None:
        raise InputError(NO_CODEBOOK)
    _check_jobs(jobs)

    training = method == "few-shot" and model is None
    with warnings_as_lines(), (working("training the few-shot mapper") if training else contextlib.nullcontext()):
        run = map_segments_to_files(
            segments, out, codebook=codebook, method=method, train=train, model=model, themes=themes,
            threshold=threshold, max_codes=max_codes, single_label=single_label,
            roles=comma_list(roles), interviewer="keep" if keep_interviewer else "drop",
            backchannels="keep" if keep_backchannels else "drop", qdpx_positions=qdpx_positions,
            self_training={"on": True, "off": False}.get(self_training, "auto"), n_jobs=jobs,
        )
    for message in run["warnings"]:
        print_warning(message)
    themes_part = f", {run['n_themes']} themes -> theme_codes.csv" if run.get("n_themes") is not None else ""
    aside = run.get("n_set_aside", 0)
    aside_part = (f"; {aside} interviewer/backchannel segments left uncoded (--keep-interviewer, "
                  f"--keep-backchannels)" if aside else "")
    if run.get("n_trained_on"):
        aside_part += f"; the {run['n_trained_on']} segments trained on are not coded (their codes are the gold)"
    print(f"{run['n_segments']} segments, {run['n_codes']} codes assigned to {run['n_coded_segments']} segments "
          f"({run['method']}){themes_part}{aside_part} -> {run['out_dir']}")
    _print_thresholds(run)


def _check_jobs(jobs: int) -> None:
    if jobs == 0:
        from ..errors import InputError

        raise InputError("--jobs must be a number of processes (1, 2, ...) or -1 for every core, not 0")


def _print_thresholds(run: dict) -> None:
    """A multi-label few-shot model's threshold per code: what it chose, so a surprising one is seen."""
    if run.get("thresholds"):
        print("thresholds per code (chosen in grouped cross-validation): "
              + ", ".join(f"{code} {t:.2f}" for code, t in run["thresholds"].items()))


@app.command("train")
def train_command(
    segments: Annotated[Path, typer.Argument(help="segments.csv of the coded transcripts.", show_default=False,
                                             metavar="SEGMENTS_CSV")],
    gold: Annotated[list[Path], typer.Option(
        help="Gold codes CSV (doc_id,start,end,code[,coder]), .qdpx, filled-in review sheet or a table of quotes "
             "(document, code, quote); repeat to mix.",
        show_default=False, metavar="FILE")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model folder, e.g. models/mystudy.", show_default=False,
                                      metavar="DIR")],
    codebook: Annotated[str, typer.Option(
        help="Codebook file (.yaml/.csv/.tsv/.xlsx/.docx/.qdc/.qdpx), or 'psychosomatic' for the shipped study "
             "codebook.",
        show_default=False, metavar="FILE|NAME")],
    cv: Annotated[int, typer.Option(min=0, help="Folds of cross-validation grouped by transcript (0: none).")] = 5,
    seed: Annotated[int, typer.Option(help="random_state.")] = 0,
    single_label: Annotated[bool | None, typer.Option(
        "--single-label/--multi-label",
        help="Every segment gets exactly its best code, or any number incl. none; default: inferred from the gold.",
        show_default=False)] = None,
    qdpx_positions: Annotated[Literal["auto", "utf16", "codepoints"], typer.Option(
        help=QDPX_POSITIONS_HELP)] = "auto",
    jobs: Annotated[int, typer.Option(
        "--jobs", help="Processes for the few-shot mapper's cross-validation fits (-1: every core); the model is "
                       "the same whatever the number.")] = 1,
) -> None:
    """Train a few-shot mapper on gold-coded segments and save it with a model card."""
    from ..jobs import train_to_folder

    _check_jobs(jobs)  # before the gold is read
    what = "training the few-shot mapper" + (f" ({cv}-fold cross-validation, then the model)" if cv >= 2 else "")
    with warnings_as_lines(), working(what):
        # train_to_folder reads a list of gold files too (its annotation says one)
        run = train_to_folder(segments, gold if len(gold) > 1 else gold[0], out,  # type: ignore[arg-type]
                              codebook=codebook, cv=cv, n_jobs=jobs,
                              random_state=seed, single_label=single_label, qdpx_positions=qdpx_positions)
    cv_part = ""
    if run.get("kappa_mean") is not None:
        cv_part = f"; grouped {run['n_splits']}-fold CV kappa {run['kappa_mean']:.3f} ± {run['kappa_sd']:.3f}"
    print(f"trained on {run['n_segments']} segments from {run['n_docs']} documents{cv_part} -> {run['out_dir']}")
    _print_thresholds(run)


@codebook_app.command("validate")
def codebook_validate(
    path: Annotated[str, typer.Argument(help="Codebook file (.yaml/.csv/.tsv/.xlsx/.docx/.qdc/.qdpx) or shipped name.",
                                        show_default=False)],
) -> None:
    """Check a codebook and print a summary (errors name the file and the code)."""
    from ..codebook import load_codebook

    with warnings_as_lines():
        cb = load_codebook(path)
    flat = cb.flat()
    codable = cb.codable()
    plain = [c.name for c in codable if not c.examples and not c.include]
    if plain:
        # not a fault: zero-shot calibrates such codes on the corpus it codes (docs/mapping.md)
        print(f"{len(plain)} code(s) have neither examples nor include criteria; zero-shot mapping calibrates "
              f"them on the segments it codes (examples help): {', '.join(plain)}")
    print(f"ok: {cb.name!r}, {len(flat)} codes ({', '.join(cb.names)}), hash {cb.hash()[:12]}")
    headings = [c.name for c in flat if not c.codable]
    if headings:
        print(f"{len(headings)} heading(s) only group codes and are never assigned: {', '.join(headings)}")


@codebook_app.command("convert")
def codebook_convert(
    source: Annotated[str, typer.Argument(
        help="Input codebook (.yaml/.csv/.tsv/.xlsx/.docx/.qdc/.qdpx) or shipped name.", show_default=False)],
    target: Annotated[Path, typer.Argument(help="Output file; format from the suffix.", show_default=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace TARGET if it exists.")] = False,
) -> None:
    """Convert a codebook between YAML, CSV (name,description) and REFI-QDA .qdc."""
    from ..codebook import load_codebook, save_codebook
    from ..errors import InputError

    if Path(source).resolve() == target.resolve():
        raise InputError("input and output are the same file", path=target)
    if target.exists() and not overwrite:  # a codebook file may hold a team's notes: never replaced unasked
        raise InputError("exists; give another file name, or --overwrite to replace it", path=target)
    with warnings_as_lines():
        cb = load_codebook(source)
    save_codebook(cb, target)
    print(f"{len(cb)} codes -> {target}")
