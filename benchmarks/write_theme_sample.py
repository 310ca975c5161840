"""Write one of the theme benchmark's corpus samples as a segment table, to run the CLI on it.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/write_theme_sample.py --corpus esconv --sample-seed 7 \
        --out esc7/segments.csv
    .venv/bin/psythemes themes esc7/segments.csv --runs 5 --by role --out esc7/out

The sample is the one ``benchmarks/theme_quality.py`` and ``benchmarks/experiments/`` use
(:func:`theme_quality.corpus_sample`); the gold codes are left out.
"""

from __future__ import annotations

import argparse
import sys

from theme_quality import add_sample_arguments, corpus_sample

from psythemes.tables import write_segments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_sample_arguments(parser, default="esconv")
    parser.add_argument("--sample-size", type=int, default=None,
                        help="transcripts / dialogues in the sample (default: the benchmark's 25 / 80)")
    parser.add_argument("--out", required=True, help="the segments.csv to write")
    args = parser.parse_args(argv)
    segments, _, info = corpus_sample(args.corpus, args.sample_seed, args.sample_size)
    path = write_segments(args.out, segments)
    print(f"{len(segments)} segments of {segments['doc_id'].nunique()} transcripts ({info['source']}) -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
