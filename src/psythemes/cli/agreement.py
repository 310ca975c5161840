"""CLI commands ``agree`` (agreement statistic on a table) and ``evaluate`` (machine vs gold).

Registered on import (see ``psythemes.cli``).  Only stdlib and typer at module level:
pandas, numpy and the statistics load inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

import typer

from ._app import ALL_DOCUMENTS_CODED_HELP, QDPX_POSITIONS_HELP, app, comma_list, warnings_as_lines, working

#: First-column headers taken as a unit id by ``agree --unit-column auto``.
UNIT_ID_HEADERS = {"", "id", "unit", "unit_id", "item", "item_id", "subject", "subject_id",
                   "segment_id", "utterance_id", "doc_id"}


def _read_reliability_table(path: Path, unit_column: str, *, as_sets: bool = False):  # noqa: ANN202
    """Units x coders CSV -> DataFrame of ratings (numbers where every cell is a number; with
    ``as_sets``, sets of codes: ``a;b``, ``-`` for none, empty for missing)."""
    import pandas as pd

    from ..errors import InputError

    if not path.is_file():
        raise InputError("table not found", path=path)
    from ..validate import check_rectangular, check_unique

    check_rectangular(path, what="ratings table")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise InputError("table is empty", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the table as CSV: {err}", path=path) from None
    if frame.empty:
        raise InputError("table has no rows (units)", path=path)
    first = str(frame.columns[0])
    if unit_column == "auto":
        use = first.strip().lower() in UNIT_ID_HEADERS or first.lower().startswith("unnamed:")
        unit = first if use else None
    elif unit_column == "none":
        unit = None
    else:
        if unit_column not in frame.columns:
            raise InputError(f"no column {unit_column!r} (columns: {', '.join(frame.columns)})", path=path)
        unit = unit_column
    if unit is not None:
        if unit_column == "auto":  # an id column (id, unit, segment_id...): a unit rated twice counts twice
            check_unique(frame, unit, what="ratings table", path=path)
        frame = frame.set_index(unit)
    if frame.shape[1] < 2:
        raise InputError(f"need at least 2 coder columns, found {frame.shape[1]}", path=path)
    frame = frame.map(lambda v: v.strip() or None)
    if as_sets:
        from ..agreement import to_code_set

        return frame.astype(object).map(to_code_set)
    # an emptied cell is NaN, not None, in a pandas 3 string column: count only the filled ones
    values = [v for v in frame.to_numpy().ravel() if isinstance(v, str)]
    if any(";" in v for v in values):
        import warnings

        from ..errors import PsythemesWarning

        warnings.warn("some cells hold ';': each cell is read as one label; for sets of codes (multi-label) "
                      "use --level masi", PsythemesWarning, stacklevel=2)
    numeric = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if values and numeric.notna().all():
        frame = frame.apply(lambda col: pd.to_numeric(col, errors="coerce"))
    return frame


def _fmt(value: float, digits: int = 3) -> str:
    return "undefined" if value != value else f"{value:.{digits}f}"  # NaN != NaN


@app.command("agree")
def agree(
    table: Path = typer.Argument(..., help="CSV: one row per unit, one column per coder; empty cell = missing.",
                                 metavar="TABLE_CSV"),
    metric: Literal["alpha", "cohen", "fleiss", "ac1", "percent", "bp"] = typer.Option(
        "alpha", "--metric", help="Krippendorff's alpha, Cohen's or Fleiss' kappa, Gwet's AC1, percent agreement, "
                                  "Brennan-Prediger."),
    level: Literal["nominal", "ordinal", "interval", "ratio", "masi"] = typer.Option(
        "nominal", "--level", help="Measurement level (alpha); masi: cells are sets of codes ('a;b', '-' for "
                                   "none), compared with the MASI distance."),
    weights: Literal["linear", "quadratic"] | None = typer.Option(None, "--weights", help="Cohen's kappa weights."),
    categories: str | None = typer.Option(
        None, "--categories", help="All categories in order, comma-separated (ordinal labels; q for AC1/BP)."),
    unit_column: str = typer.Option(
        "auto", "--unit-column",
        help="Column holding unit ids: auto (first column if headed id/unit/item/subject/segment_id/...), "
             "a column name, or none."),
    ci: float = typer.Option(0.95, "--ci", min=0.5, max=0.999, help="Confidence level of the bootstrap interval."),
    n_boot: int = typer.Option(1000, "--n-boot", min=0, help="Bootstrap resamples of units (0 = no interval)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
) -> None:
    """Agreement among coders on a units x coders table (Krippendorff's alpha, kappas, AC1, ...)."""
    from ..agreement import _METRIC_NAMES, agreement
    from ..errors import InputError
    from ..outputs import to_jsonable

    if level == "masi" and metric != "alpha":
        raise InputError("--level masi is a level of Krippendorff's alpha: use it with --metric alpha")
    with warnings_as_lines():
        frame = _read_reliability_table(table, unit_column, as_sets=level == "masi")
    cats: list[Any] | None = [c.strip() for c in categories.split(",")] if categories else None
    if cats is not None and all(_is_number(c) for c in cats):
        cats = [float(c) for c in cats]
    with warnings_as_lines():
        result = agreement(frame, metric, level=level, weights=weights, categories=cats,
                           ci=ci if n_boot > 0 else None, n_boot=n_boot, random_state=seed)
    if as_json:
        record = {"metric": result.metric, "level": result.level, "weights": result.weights,
                  "value": result.value, "ci_low": result.ci_low, "ci_high": result.ci_high,
                  "ci": result.ci, "n_boot": result.n_boot, "n_units": result.n_units,
                  "n_coders": result.n_coders, "reason": result.reason}
        print(json.dumps(to_jsonable(record), ensure_ascii=False))
        return
    name = _METRIC_NAMES[result.metric]
    qualifier = f" ({result.level})" if result.level else (f" ({result.weights} weights)" if result.weights else "")
    line = f"{name}{qualifier} = {_fmt(result.value)}"
    if result.n_boot and result.ci_low == result.ci_low:
        line += f"  [{result.ci:.0%} CI {_fmt(result.ci_low)} to {_fmt(result.ci_high)}; {result.n_boot} resamples]"
    print(line)
    print(f"units with 2+ ratings: {result.n_units}, coders: {result.n_coders}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@app.command("evaluate")
def evaluate_command(
    pred: Path = typer.Option(..., "--pred", help="Machine codes CSV (doc_id, segment_id, start, end, code, score).",
                              metavar="CSV"),
    gold: list[Path] = typer.Option(
        ..., "--gold", help="Gold codes: CSV (doc_id, start, end, code[, coder]), .qdpx, a filled-in review "
                            "sheet, or a table of quotes (document, code, quote; CSV or .xlsx, found in the "
                            "transcripts); repeat to mix.", metavar="FILE"),
    gold_coders: str | None = typer.Option(
        None, "--gold-coders", help="Coders whose codes are gold, comma-separated [default: all but 'psythemes'].",
        metavar="NAME,..."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for agreement.json/.csv, confusion.csv, "
                             "disagreements.csv.", metavar="DIR"),
    segments: Path | None = typer.Option(
        None, "--segments", help="Segments CSV: the units scored (every segment, coded or not). Required unless "
                                 "--pred-units-only.", metavar="CSV"),
    pred_units_only: bool = typer.Option(
        False, "--pred-units-only", help="Without --segments: score only the segments listed in --pred (units "
                                         "without any machine code are left out, which lowers kappa)."),
    overlap: float = typer.Option(0.5, "--overlap", min=0.01, max=1.0,
                                  help="Share of span or segment a gold span must cover."),
    codes: str | None = typer.Option(
        None, "--codes",
        help="The code list, comma-separated (or ';'-separated, for code names with commas); a code outside it in "
             "--gold or --pred is an error (default: all used, alphabetically)."),
    codebook: str | None = typer.Option(
        None, "--codebook", help="Codebook file (.yaml/.csv/.tsv/.xlsx/.docx/.qdc/.qdpx) or shipped name: its codes, "
                                 "in its order and spelling, are the code list (instead of --codes).",
        metavar="FILE|NAME"),
    consensus: Literal["majority", "union", "intersection"] = typer.Option(
        "majority", "--consensus", help="Reference from several coders."),
    ci: float = typer.Option(0.95, "--ci", min=0.5, max=0.999, help="Confidence level of bootstrap intervals."),
    n_boot: int = typer.Option(1000, "--n-boot", min=0, help="Bootstrap resamples of units (0 = no intervals)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the bootstrap."),
    qdpx_positions: Literal["auto", "utf16", "codepoints"] = typer.Option(
        "auto", "--qdpx-positions", help=QDPX_POSITIONS_HELP),
    keep_backchannels: bool = typer.Option(
        False, "--keep-backchannels", help="Score backchannel segments ('mm-hmm') that neither side codes too (for "
                                           "codes from map --keep-backchannels; left out by default, as map and "
                                           "extract leave them uncoded)."),
    all_roles: bool = typer.Option(
        False, "--all-roles", help="Score the segments of every role (default: when the gold codes some roles "
                                   "only, e.g. therapist turns, those; a warning says so)."),
    all_documents_coded: bool = typer.Option(
        False, "--all-documents-coded", help=ALL_DOCUMENTS_CODED_HELP),
) -> None:
    """Evaluate machine codes against human (gold) codes, with human-human agreement alongside."""
    from ..errors import InputError
    from ..evaluate import evaluate
    from ..tables import gold_texts, read_codes, read_gold, read_segments, write_evaluation
    from ._app import print_warning

    if segments is None and not pred_units_only:
        raise InputError("give --segments SEGMENTS_CSV (the units to score: every segment, coded or not); "
                         "--pred-units-only scores only the segments listed in --pred")
    if segments is not None and pred_units_only:
        raise InputError("--pred-units-only and --segments exclude each other")
    from ..staging import check_out_dir, keeping_edited

    check_out_dir(out, stage_command=True)  # before the evaluation, not after it
    # ';' when given: code names such as "Work, pacing and daily life" hold commas
    if codebook is not None and codes is not None:
        raise InputError("--codebook and --codes both give the code list; use one")
    book = None
    if codebook is not None:
        from ..codebook import load_codebook

        with warnings_as_lines():  # what reading it guessed is said as a line, not as Python's warning
            book = load_codebook(codebook)
        code_list: list[str] | None = book.codable_names
    else:
        code_list = ([c.strip() for c in codes.split(";") if c.strip()] if codes and ";" in codes
                     else comma_list(codes))
    with warnings_as_lines():
        coders = comma_list(gold_coders)
        seg_table = read_segments(segments) if segments is not None else None
        # read_segments has read the transcripts.jsonl beside the table once: its lengths come with it
        try:
            gold_table = read_gold(list(gold), codes=book if book is not None else code_list, coders=coders,
                                   qdpx_positions=qdpx_positions,
                                   text_lengths=seg_table.attrs.get("text_lengths") if seg_table is not None else None,
                                   texts=gold_texts(seg_table) if seg_table is not None else None)
            pred_table = read_codes(pred, codes=code_list)
        except InputError as err:
            if codes is None:
                raise
            # the list is --codes, not a codebook; a misspelt entry shows up as another code "not in
            # the list": name the entry too
            unused = _entries_no_machine_code_uses(code_list, pred)
            hint = (f"; note: --codes lists {', '.join(map(repr, unused))}, which no machine code uses (misspelt?)"
                    if unused else "")
            raise InputError(err.message.replace("is not in the codebook", "is not in the --codes list") + hint,
                             path=err.path, line=err.line) from None
        with working(f"agreement with {n_boot} bootstrap resamples"):
            result = evaluate(pred_table, gold_table, seg_table, codes=code_list, overlap=overlap,
                              consensus=consensus, ci=ci if n_boot > 0 else None, n_boot=n_boot,
                              random_state=seed, roles=None if all_roles else "gold",
                              backchannels="keep" if keep_backchannels else "drop",
                              documents="all" if all_documents_coded else "gold")
    with keeping_edited(out):
        paths = write_evaluation(result, out)
    if segments is None:
        print_warning(f"scored only the {result.summary['n_units']} units that have a machine code in --pred "
                      "(--pred-units-only): agreement is lower than over all segments; give --segments for that")
    _print_evaluation(result)
    print(f"wrote {len(paths)} files to {out}")


def _entries_no_machine_code_uses(entries: list[str] | None, pred: Path) -> list[str]:
    """The ``--codes`` entries that match no code of the machine codes (as gold labels match codes)."""
    from ..codebook import resolve_code_names
    from ..errors import InputError
    from ..tables import read_codes

    try:
        used = sorted(set(read_codes(pred)["code"].astype(str)))
    except InputError:
        return []
    unused = []
    for entry in entries or []:
        try:
            resolve_code_names([entry], used, what="--codes entry")
        except InputError:
            unused.append(entry)
    return unused


def _print_evaluation(result) -> None:  # noqa: ANN001
    from rich.console import Console
    from rich.table import Table

    s = result.summary
    table = Table(title=f"Machine vs gold ({s['consensus']}), {s['n_units']} units in {s['n_docs']} documents")
    has_human = "human_kappa" in result.per_code.columns
    widest = max([len(str(c)) for c in result.per_code["code"]] + [4])
    table.add_column("code", no_wrap=True, min_width=widest)
    for col in ["prev.", "kappa", "95% CI", "alpha", "AC1", "P", "R", "F1"] + (["human kappa"] * has_human):
        table.add_column(col, justify="right")
    for row in result.per_code.to_dict("records"):
        ci_text = "" if row["kappa_ci_low"] != row["kappa_ci_low"] else (
            f"{row['kappa_ci_low']:.2f} to {row['kappa_ci_high']:.2f}")
        cells = [row["code"], _fmt(row["prevalence"], 2), _fmt(row["kappa"], 2), ci_text, _fmt(row["alpha"], 2),
                 _fmt(row["ac1"], 2), _fmt(row["precision"], 2), _fmt(row["recall"], 2), _fmt(row["f1"], 2)]
        if has_human:
            cells.append(_fmt(row["human_kappa"], 2))
        table.add_row(*cells)
    console = Console(file=sys.stdout, width=max(120, widest + 100))
    console.print(table)
    unaligned = sum(s["gold_spans_unaligned"].values())
    console.print(f"micro F1 {_fmt(s['micro_f1'], 2)}, macro F1 {_fmt(s['macro_f1'], 2)}, "
                  f"MASI alpha {_fmt(s['alpha_masi'], 2)}"
                  + (f" (humans: {_fmt(s['human_alpha_masi'], 2)})" if s["n_coders"] > 1 else "")
                  + f"; gold spans aligned {s['n_gold_spans_aligned']}/{s['n_gold_spans']}"
                  + (f" ({unaligned} not aligned, see agreement.json)" if unaligned else ""), highlight=False)
