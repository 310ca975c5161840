"""``psythemes themes``: embed segments (cached) and discover candidate themes (see psythemes.themes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ._app import (
    ENCODING_HELP,
    FALLBACK_HELP,
    METADATA_HELP,
    SPEAKER_ROLES_HELP,
    app,
    speaker_roles_spec,
    warnings_as_lines,
    working,
)

#: Themes listed in the summary (all of them are in themes.csv).
SUMMARY_THEMES = 10


@app.command()
def themes(
    inputs: Annotated[list[Path], typer.Argument(
        help="Transcript files or folders, or one segments.csv.", show_default=False, metavar="FILES")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.", show_default=False, metavar="DIR")],
    preset: Annotated[Literal["default", "fast"], typer.Option(
        help="default (UMAP + HDBSCAN) or fast (PCA + k-means).")] = "default",
    min_topic_size: Annotated[int, typer.Option(min=2, help="Smallest theme (default preset).")] = 10,
    n_themes: Annotated[int | None, typer.Option(
        min=2, help="Number of themes (fast); merge down to this many (default).")] = None,
    by: Annotated[list[str], typer.Option(
        help="Tabulate theme prevalence by this column (repeatable); wave is added when known.")] = ["role"],  # noqa: B006
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    reduce_outliers: Annotated[bool, typer.Option(
        "--reduce-outliers", help="Assign outliers to their most similar theme.")] = False,
    context: Annotated[Literal["previous_turn"] | None, typer.Option(
        help="previous_turn: embed each segment with the end of the previous turn of another speaker.")] = None,
    model: Annotated[Path | None, typer.Option(
        help="Local sentence-transformers model folder (default: the bundled all-MiniLM-L6-v2).",
        metavar="DIR")] = None,
    backend: Annotated[Literal["onnx", "torch"] | None, typer.Option(
        help="Embedding backend: onnx (int8, faster) or torch; default onnx (or "
             "$PSYTHEMES_EMBED_BACKEND). See docs/performance.md.")] = None,
    metadata: Annotated[Path | None, typer.Option(help=METADATA_HELP, metavar="FILE")] = None,
    unit: Annotated[Literal["turn", "sentence", "window"], typer.Option(
        help="Segmentation unit for transcripts.")] = "turn",
    keep_interviewer: Annotated[bool, typer.Option(
        "--keep-interviewer", help="Analyse interviewer turns too (left out by default, as in extract).")] = False,
    keep_backchannels: Annotated[bool, typer.Option(
        "--keep-backchannels", help="Analyse backchannels ('mm-hmm', 'yeah') too (left out by default).")] = False,
    speaker_roles: Annotated[list[str] | None, typer.Option(
        help=SPEAKER_ROLES_HELP, metavar="GLOB=ROLE,...")] = None,
    encoding: Annotated[str | None, typer.Option(help=ENCODING_HELP, metavar="NAME")] = None,
    guided: Annotated[str | None, typer.Option(
        help="Guided discovery: codebook file (.yaml/.csv/.tsv/.xlsx/.docx/.qdc/.qdpx) or shipped name whose "
             "codes' seed_words steer the themes.", show_default=False, metavar="FILE|NAME")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Embedding cache folder (default: embeddings/ in the per-user cache; see 'psythemes cache info').",
        metavar="DIR")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the embedding cache.")] = False,
    runs: Annotated[int, typer.Option(
        min=1, help="Stability check: fit with this many seeds, report the most central run and flag themes "
                    "that do not reappear (themes.csv columns stability, stable).")] = 1,
    fallback: Annotated[Literal["auto", "always", "never"], typer.Option(
        help=FALLBACK_HELP.format(runs="--runs"))] = "auto",
    names: Annotated[Path | None, typer.Option(
        help="Word list of names (one a line, '#' comments; a --names file of pseudonymise works too) of people "
             "talked about who do not speak: left out of theme keywords, as speakers' names are.",
        metavar="FILE")] = None,
) -> None:
    """Discover candidate themes; write themes.csv, theme_quotes.csv, segment_themes.csv, themes_by_*.csv and figures/.
    """
    from ..embed import Embedder
    from ..jobs import discover_themes, load_segments
    from ..themes import seed_words_from_codebook

    # before reading and embedding: a codebook without seed words, or an unreadable names file, fails fast
    seed_words = seed_words_from_codebook(guided) if guided is not None else None
    extra_names: dict = {}
    if names is not None:
        from ..pseudonymise import read_word_list

        # people only: "PLACE: Hebden Bridge" of a pseudonymise list would ban "bridge"
        extra_names["names"] = [term for kind, term in read_word_list(names) if kind == "PERSON"]
    with warnings_as_lines():
        segments, doc_meta, segmented = load_segments(
            inputs, unit=unit, metadata=metadata, speaker_roles=speaker_roles_spec(speaker_roles), encoding=encoding,
            interviewer="keep" if keep_interviewer else "drop", backchannels="keep" if keep_backchannels else "drop")
        embedder = Embedder(model=model, context=context, cache_dir=False if no_cache else cache_dir, backend=backend)
        # fewer than 2 segments: discover_themes says so without loading the model
        embeddings = embedder.embed_segments(segments) if len(segments) >= 2 else None
        # read now: guided mode embeds the seed words with the same embedder, which resets stats_
        stats = dict(getattr(embedder, "stats_", {}))
        with working(f"fitting themes ({preset} preset) on {len(segments)} segments"):
            result = discover_themes(
                segments, embedder=embedder, embeddings=embeddings, metadata=doc_meta, out_dir=out,
                include_segments=segmented, preset=preset, min_topic_size=min_topic_size, n_themes=n_themes,
                random_state=seed, reduce_outliers=reduce_outliers, seed_words=seed_words,
                by=list(dict.fromkeys([*by, "wave"])), n_runs=runs, fallback=fallback, **extra_names)
    info = result.summary()
    set_aside = segments.attrs.get("n_set_aside", 0)
    print(f"{info['n_segments']} segments from {info['n_docs']} documents "
          f"({_embedded(stats)})"
          + (f"; {set_aside} segments left out ({_kinds(segments.attrs.get('set_aside', {}))})" if set_aside else ""))
    before = f" (before reduction {info['initial_outlier_share']:.1%})" if reduce_outliers else ""
    print(f"{info['n_themes']} themes, preset {info['preset_used']}; outlier share {info['outlier_share']:.1%}{before}")
    if seed_words:
        print(f"guided by the seed words of {len(seed_words)} codes: {', '.join(seed_words)}")
    if info.get("stability"):
        st = info["stability"]
        print(f"stability over {runs} seeds: reported seed {st['reported_seed']}, mean theme stability "
              f"{st['mean_theme_stability']}, {st['n_unstable']} unstable theme(s) (marked *)")
    largest = result.themes_.sort_values(["size", "theme_id"], ascending=[False, True], kind="stable")
    for rec in largest.head(SUMMARY_THEMES).to_dict("records"):
        mark = "*" if rec.get("stable") is False or rec.get("stable") == 0 else " "
        print(f"  {rec['theme_id']:>3}  {rec['size']:>5} {mark}{rec['label']}")
    if len(result.themes_) > SUMMARY_THEMES:
        print(f"  ... {len(result.themes_) - SUMMARY_THEMES} more in themes.csv")
    print(f"-> {out}")


def _kinds(counts: dict) -> str:
    from ..segment import SET_ASIDE_WORDS

    said = ", ".join(f"{n} {SET_ASIDE_WORDS.get(kind, kind)}" for kind, n in counts.items())
    return said or "interviewer/backchannel"


def _embedded(stats: dict[str, int]) -> str:
    """How the segments got their vectors: a text said twice ("Yes.") is embedded once."""
    distinct = stats.get("n_unique", 0)
    repeated = stats.get("n_texts", distinct) - distinct
    return (f"{distinct} distinct texts: {stats.get('n_encoded', 0)} embedded, {stats.get('n_cached', 0)} from the "
            "cache" + (f"; {repeated} segments repeat one of them" if repeated else ""))
