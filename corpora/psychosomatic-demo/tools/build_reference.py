"""Turn the coders' verbatim quotes into span-level reference codes.

Each coder wrote, per transcript, ``codes/quotes/<doc_id>.<coder>.csv`` with columns
``code,quote``: a verbatim passage of one turn and the code it carries.  This script reads
every transcript through psythemes' public readers (so offsets refer to the normalised text
that psythemes produces), locates each quote — it must occur exactly once — and writes
``codes/reference.csv`` (doc_id, start, end, code, coder, text).  It fails loudly on a quote
that is missing or ambiguous instead of guessing.

    .venv/bin/python corpora/psychosomatic-demo/tools/build_reference.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from psythemes.io import read_transcripts
from psythemes.outputs import write_table
from psythemes.schema import GOLD_COLUMNS

CORPUS = Path(__file__).resolve().parents[1]
CODES = {"alternation", "awareness", "alliance", "common_ground"}


def main() -> int:
    transcripts = {t.doc_id: t for t in read_transcripts([CORPUS / "transcripts"])}
    rows, problems = [], []
    for quotes_file in sorted((CORPUS / "codes" / "quotes").glob("*.csv")):
        doc_id, coder = quotes_file.stem.rsplit(".", 1)
        if doc_id not in transcripts:
            problems.append(f"{quotes_file.name}: no transcript {doc_id!r}")
            continue
        text = transcripts[doc_id].text
        quotes = pd.read_csv(quotes_file, dtype=str, keep_default_na=False)
        for line, rec in enumerate(quotes.itertuples(index=False), start=2):
            code, quote = rec.code.strip(), rec.quote.strip()
            where = f"{quotes_file.name}:{line}"
            if code not in CODES:
                problems.append(f"{where}: unknown code {code!r}")
                continue
            count = text.count(quote)
            if count != 1:
                problems.append(f"{where}: quote found {count} times: {quote[:60]!r}")
                continue
            start = text.index(quote)
            rows.append((doc_id, start, start + len(quote), code, coder, quote))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    table = pd.DataFrame(rows, columns=[*GOLD_COLUMNS, "text"]).drop_duplicates()
    table = table.sort_values(["coder", "doc_id", "start", "end", "code"]).reset_index(drop=True)
    write_table(CORPUS / "codes" / "reference.csv", table)
    summary = table.groupby(["coder", "code"]).size().unstack(fill_value=0)
    print(f"{len(table)} coded spans in {table['doc_id'].nunique()} transcripts")
    print(summary.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
