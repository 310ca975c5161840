"""Pseudonymisation benchmark: recall and precision per identifier type, and what it costs kappa.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/pseudonymisation.py     # writes benchmarks/results/pseudonymisation.json
    PYTHONPATH=src .venv/bin/python benchmarks/pseudonymisation.py --docs 20 --no-kappa   # quicker look

1. A labelled test set built here (seeded): participant and therapist sentences of the demo
   corpus and of AnnoMI (``../shared``; skipped when missing) are put together into
   interview-like documents (``Interviewer:`` / ``P07:`` turns), and identifiers drawn from
   Faker (names from four locales, towns, street addresses, organisations, dates, ages over
   89, e-mails, phone numbers, NHS / NI / hospital numbers, URLs) are inserted, in two ways:
   a *substitution* puts a name where the sentence had "she"/"he"/"my GP", so the name
   stands in a real sentence; an *insertion* adds a sentence from a template.  Each inserted
   value's span is recorded.  Base sentences with a capital letter inside (a name of their
   own) are left out, so what the pseudonymiser replaces outside the recorded spans is a
   real false positive.  Each document mentions the same two or three people several times,
   as interviews do.
2. :class:`psythemes.pseudonymise.Pseudonymiser` runs on all documents at once (as
   ``psythemes pseudonymise`` does).  A recorded span is *hidden* when every letter and
   digit of it lies inside replaced text; recall per type = hidden / recorded.  A replaced
   span is a true positive when it overlaps a recorded span; precision per type (the type
   psythemes gave it) = true / replaced.  ``kind_agrees`` is the share of hidden spans whose
   surrogate has the recorded type.
3. Kappa: ``psythemes.extract`` on the demo corpus against the reference codes (coder A and
   B), once on the original and once on the pseudonymised text (``pseudonymise=True``);
   ``mean_kappa`` of both and the change.

Targets (issue #18): recall >= 0.95 for person names and >= 0.90 overall; |kappa change| <= 0.02.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpora" / "psychosomatic-demo"
SHARED = Path(os.environ.get("PSYTHEMES_SHARED", ROOT.parent / "shared"))
RESULTS = ROOT / "benchmarks" / "results" / "pseudonymisation.json"

#: Faker locales names are drawn from, and how often.
NAME_LOCALES = ("en_GB", "en_US", "en_IN", "nl_NL")

# Templates: {X} is the identifier (its span is recorded); others are filled from Faker too
# but not recorded ({first2} only appears with PERSON, which is recorded separately).
TEMPLATES: dict[str, list[str]] = {
    "PERSON": [
        "I talked to {X} about it afterwards.",
        "My daughter {X} drives me to the sessions.",
        "{X} from next door came round with soup.",
        "Honestly, {X} was the only one who listened.",
        "The physio, {X}, said to take it slowly.",
        "My husband {X} thinks I should go back to work.",
        "I rang {X} that evening and cried.",
        "It was {X} who told me about the study.",
        "We went to see {X} at the practice.",
        "And then {X} said, well, you look fine to me.",
        "My manager, {X}, was not very understanding.",
        "I still text {X} every week.",
    ],
    "PLACE": [
        "We moved to {X} when the kids were small.",
        "I grew up in {X}, so it was a long drive.",
        "The clinic is over in {X}, past the station.",
        "My sister still lives at {X}.",
        "We used to walk along the canal in {X}.",
        "I was working in {X} at the time.",
    ],
    "ORG": [
        "I was working for {X} back then.",
        "They sent me to {X} for the scan.",
        "The letter came from {X} a month later.",
        "I did a course with {X} last year.",
    ],
    "DATE": [
        "The first session was on {X}.",
        "I had the operation on {X}, I remember it exactly.",
        "My appointment is {X}.",
        "It all started on {X}.",
        "I was discharged on {X} and went straight home.",
    ],
    "AGE": [
        "My mother is {X} years old and still does her own shopping.",
        "I'm {X} years old, I've seen a few things.",
        "He was aged {X} when he passed.",
        "She turned {X} in the spring.",
        "A {X}-year-old woman in the waiting room started talking to me.",
    ],
    "EMAIL": [
        "You can email me at {X} if you need anything.",
        "The therapist gave me her address, {X}, for questions.",
        "Send the forms to {X}, please.",
    ],
    "PHONE": [
        "Her number is {X}, if you want to check.",
        "You can ring me on {X} any evening.",
        "The helpline is {X}.",
    ],
    "ID": [
        "My NHS number is {X}.",
        "They asked for my hospital number, {X}, every single time.",
        "On the letter it said reference {X}.",
        "My National Insurance number is {X}.",
    ],
    "URL": [
        "I found the exercises on {X}.",
        "There's a forum at {X} that helped me.",
        "The leaflet pointed to {X} for more information.",
    ],
}
# How many identifiers of each type a document gets (on average), roughly as often as they come up.
WEIGHTS = {"PERSON": 5, "PLACE": 2, "ORG": 1.2, "DATE": 1.2, "AGE": 0.6, "EMAIL": 0.6, "PHONE": 0.6, "ID": 0.8,
           "URL": 0.5}
PRONOUN = re.compile(r"(?<=[a-z,] )(she|he|my GP|the doctor)(?= [a-z])")
_LEADING_WORD = re.compile(r"^(?:Dr|MRN) ")
NUMBER_WORDS = ["ninety", "ninety-one", "ninety-two", "ninety-three", "ninety-four", "ninety-five", "ninety-six"]


def base_sentences(limit_annomi: int = 4000) -> dict[str, list[str]]:
    """Participant/therapist sentences without a capital letter inside (no name of their own)."""
    from psythemes.io import read_transcripts

    def usable(s: str) -> bool:
        words = s.split()
        return 6 <= len(words) <= 40 and not any(w[:1].isupper() and w.strip(",.?!'\"") not in ("I", "I'm", "I've",
                                                 "I'd", "I'll", "OK", "Okay") for w in words[1:])

    out: dict[str, list[str]] = {"demo": [], "annomi": []}
    for t in read_transcripts([DEMO / "transcripts"]):
        for turn in t.turns:
            if turn.speaker.lower().startswith(("interviewer", "moderator")):
                continue
            out["demo"] += [s for s in _split(t.text[turn.start:turn.end]) if usable(s)]
    annomi = SHARED / "corpora" / "annomi" / "AnnoMI-simple.csv"
    if annomi.is_file():
        import pandas as pd

        frame = pd.read_csv(annomi, usecols=["utterance_text"]).head(limit_annomi)
        for text in frame["utterance_text"].astype(str):
            out["annomi"] += [s for s in _split(text) if usable(s)]
    return out


def _split(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]


def _nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            s = "".join(map(str, digits + [check]))
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def make_value(kind: str, fakers: dict, rng: random.Random) -> tuple[str, str]:
    """(value, locale or variant) of one identifier."""
    gb = fakers["en_GB"]
    if kind == "PLACE":
        if rng.random() < 0.7:
            return gb.city(), "city"
        return gb.street_address().replace("\n", ", "), "street address"
    if kind == "ORG":
        if rng.random() < 0.5:
            return gb.company(), "company"
        return f"{gb.city()} General Hospital", "hospital"
    if kind == "DATE":
        d = gb.date_between(start_date="-30y", end_date="+1y")
        style = rng.choice(["%d %B %Y", "%d/%m/%Y", "%B %d", "the {o} of %B", "%d %B"])
        ordinal = f"{d.day}{'th' if 11 <= d.day <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d.day % 10, 'th')}"
        return d.strftime(style.replace("{o}", ordinal)).lstrip("0"), style
    if kind == "AGE":
        if rng.random() < 0.25:
            return rng.choice(NUMBER_WORDS), "words"
        return str(rng.randint(90, 104)), "digits"
    if kind == "EMAIL":
        return gb.email(), "email"
    if kind == "PHONE":
        return gb.phone_number(), "en_GB"
    if kind == "ID":
        roll = rng.random()
        if roll < 0.4:
            return _nhs_number(rng), "NHS number"
        if roll < 0.7:
            return gb.bothify("??######?").upper(), "NI number"
        return f"MRN {rng.randint(1000000, 9999999)}", "hospital number"
    if kind == "URL":
        return gb.url() + rng.choice(["", "exercises", "forum/pain", "help.html"]), "url"
    raise ValueError(kind)


def person(fakers: dict, rng: random.Random) -> tuple[list[str], str]:
    """Ways to mention one person (full name, first name, Dr + surname) and their locale."""
    locale = rng.choice(NAME_LOCALES)
    fake = fakers[locale]
    first, last = fake.first_name(), fake.last_name()
    return [f"{first} {last}", first, first, f"Dr {last}"], locale


def build_documents(n_docs: int, seed: int) -> list[dict]:
    """Documents with recorded spans: [{doc_id, text, spans: [(start, end, kind, variant)]}]."""
    from faker import Faker

    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in NAME_LOCALES}
    for i, fake in enumerate(fakers.values()):
        fake.seed_instance(seed * 100 + i)
    pools = base_sentences()
    sources = [s for s in ("demo", "annomi") if pools[s]]
    docs = []
    for d in range(n_docs):
        source = sources[d % len(sources)]
        pool = pools[source]
        people = [person(fakers, rng) for _ in range(rng.randint(2, 3))]
        label = f"P{d + 1:02d}"
        parts: list[str] = []
        spans: list[tuple[int, int, str, str]] = []
        pos = 0

        def emit(text: str, recorded: list[tuple[int, int, str, str]] = ()):
            nonlocal pos
            # emit() is called within this iteration only, so spans and parts are the current ones
            for s, e, k, v in recorded:
                spans.append((pos + s, pos + e, k, v))  # noqa: B023
            parts.append(text)  # noqa: B023
            pos += len(text)

        wanted = [k for k, w in WEIGHTS.items() for _ in range(int(w) + (rng.random() < w % 1))]
        rng.shuffle(wanted)
        n_turns = max(8, len(wanted) + 4)
        for _turn in range(n_turns):
            emit("Interviewer: " + rng.choice(["Can you tell me more?", "How was that for you?",
                                                "What happened then?", "And how are things now?"]) + "\n")
            emit(f"{label}: ")
            sentences = rng.sample(pool, k=min(len(pool), rng.randint(1, 3)))
            for sentence in sentences:
                recorded = []
                if wanted and wanted[0] == "PERSON" and PRONOUN.search(sentence) and rng.random() < 0.6:
                    wanted.pop(0)
                    names, locale = rng.choice(people)
                    name = rng.choice(names)
                    m = PRONOUN.search(sentence)
                    sentence = sentence[:m.start()] + name + sentence[m.end():]
                    lead = len(name) - len(_LEADING_WORD.sub("", name))
                    recorded.append((m.start() + lead, m.start() + len(name), "PERSON", f"{locale} in sentence"))
                emit(sentence + " ", recorded)
            if wanted:
                kind = wanted.pop(0)
                template = rng.choice(TEMPLATES[kind])
                if kind == "PERSON":
                    names, locale = rng.choice(people)
                    value, variant = rng.choice(names), f"{locale} in template"
                else:
                    value, variant = make_value(kind, fakers, rng)
                at = template.index("{X}")
                sentence = template.replace("{X}", value)
                # a title or a label before the value ("Dr", "MRN") identifies no one: not recorded
                lead = len(value) - len(_LEADING_WORD.sub("", value))
                emit(sentence + " ", [(at + lead, at + len(value), kind, variant)])
            if parts[-1].endswith(" "):  # no space before the line end
                parts[-1] = parts[-1][:-1]
                pos -= 1
            emit("\n")
        docs.append({"doc_id": f"{source}-{d + 1:03d}", "text": "".join(parts), "spans": spans, "source": source})
    return docs


def score(docs: list[dict], result) -> dict:
    """Recall per recorded type, precision per replaced type (see the module docstring)."""
    from psythemes.pseudonymise import KINDS

    replaced = defaultdict(list)
    for ident in result.identifiers:
        replaced[ident.doc_id].append(ident)
    rec = Counter()
    hid = Counter()
    kind_ok = Counter()
    by_variant = defaultdict(Counter)
    pred = Counter()
    true = Counter()
    for doc in docs:
        text, idents = doc["text"], replaced[doc["doc_id"]]
        covered = [False] * len(text)
        kind_at = [None] * len(text)
        for ident in idents:
            for i in range(ident.start, ident.end):
                covered[i] = True
                kind_at[i] = ident.kind
        for start, end, kind, variant in doc["spans"]:
            chars = [i for i in range(start, end) if text[i].isalnum()]
            hidden = all(covered[i] for i in chars)
            rec[kind] += 1
            by_variant[f"{kind}: {variant}"]["n"] += 1
            if hidden:
                hid[kind] += 1
                by_variant[f"{kind}: {variant}"]["hidden"] += 1
                kind_ok[kind] += all(kind_at[i] == kind for i in chars)
        for ident in idents:
            pred[ident.kind] += 1
            true[ident.kind] += any(ident.start < e and s < ident.end for s, e, _, _ in doc["spans"])
    per_kind = {}
    for kind in KINDS:
        per_kind[kind] = {
            "recorded": rec[kind], "hidden": hid[kind],
            "recall": hid[kind] / rec[kind] if rec[kind] else None,
            "replaced": pred[kind], "true_positive": true[kind],
            "precision": true[kind] / pred[kind] if pred[kind] else None,
            "kind_agrees": kind_ok[kind] / hid[kind] if hid[kind] else None,
        }
    total, hidden = sum(rec.values()), sum(hid.values())
    n_pred, n_true = sum(pred.values()), sum(true.values())
    return {
        "per_kind": per_kind,
        "overall": {"recorded": total, "hidden": hidden, "recall": hidden / total if total else None,
                    "replaced": n_pred, "true_positive": n_true, "precision": n_true / n_pred if n_pred else None},
        "recall_by_variant": {k: {"n": v["n"], "recall": v["hidden"] / v["n"]} for k, v in sorted(by_variant.items())},
    }


def misses(docs: list[dict], result, limit: int = 40) -> dict[str, list[str]]:
    """Examples of what was missed and what was replaced wrongly (Faker values and ordinary
    words only: the test set is synthetic)."""
    out: dict[str, list[str]] = {"missed": [], "false_positive": []}
    by_doc = defaultdict(list)
    for ident in result.identifiers:
        by_doc[ident.doc_id].append(ident)
    for doc in docs:
        idents = by_doc[doc["doc_id"]]
        for s, e, kind, _ in doc["spans"]:
            chars = [i for i in range(s, e) if doc["text"][i].isalnum()]
            if not all(any(x.start <= i < x.end for x in idents) for i in chars):
                out["missed"].append(f"{kind}: {doc['text'][s:e]}")
        for x in idents:
            if not any(x.start < e and s < x.end for s, e, _, _ in doc["spans"]):
                out["false_positive"].append(f"{x.kind}: {doc['text'][x.start:x.end]}")
    return {k: sorted(Counter(v).most_common(limit)) for k, v in out.items()}


def kappa_change(n_boot: int, seed: int) -> dict:
    """mean kappa (machine vs reference) on the demo corpus, original vs pseudonymised text."""
    import warnings

    from psythemes.pipeline import extract

    out = {}
    options = dict(metadata=DEMO / "metadata.csv", gold=DEMO / "codes" / "reference.csv", preset="fast",
                   n_boot=n_boot, random_state=seed, qdpx=False)
    for name, pseudo in (("original", False), ("pseudonymised", True)):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = extract([DEMO / "transcripts"], None, pseudonymise=pseudo, **options)
        summary = result.evaluation.summary
        out[name] = {"mean_kappa": float(summary["mean_kappa"]), "macro_f1": float(summary.get("macro_f1", "nan")),
                     "n_segments": int(len(result.segments)), "seconds": round(time.perf_counter() - start, 1)}
        if pseudo:
            out[name]["identifiers_replaced"] = result.pseudonymisation.counts()
    out["change"] = out["pseudonymised"]["mean_kappa"] - out["original"]["mean_kappa"]
    out["options"] = {k: str(v) for k, v in options.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=80, help="documents in the test set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-kappa", action="store_true", help="skip the two extract runs")
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from psythemes.io import parse_labelled_text
    from psythemes.pseudonymise import Pseudonymiser
    from psythemes.schema import Transcript

    load = os.getloadavg()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    docs = build_documents(args.docs, args.seed)
    transcripts = [Transcript(d["doc_id"], d["text"], turns=parse_labelled_text(d["text"])) for d in docs]
    start = time.perf_counter()
    result = Pseudonymiser().fit_transform(transcripts)
    seconds = time.perf_counter() - start
    report = {
        "what": "recall/precision of psythemes.pseudonymise on a seeded Faker-labelled test set "
                "(demo corpus + AnnoMI sentences), and the kappa change on the demo corpus",
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "seed": args.seed,
        "documents": {"n": len(docs), "by_source": dict(Counter(d["source"] for d in docs)),
                      "characters": sum(len(d["text"]) for d in docs)},
        "seconds_pseudonymise": round(seconds, 1),
        "load_before": {"uptime": uptime, "loadavg": load},
        **score(docs, result),
        "examples": misses(docs, result),
    }
    if not args.no_kappa:
        report["kappa"] = kappa_change(args.n_boot, args.seed)
    report["load_after"] = {"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    print(f"{len(docs)} documents, {report['overall']['recorded']} recorded identifiers, "
          f"pseudonymised in {seconds:.0f} s")
    print(f"{'type':8} {'recorded':>8} {'recall':>7} {'replaced':>8} {'precision':>9}")
    for kind, row in report["per_kind"].items():
        r = "-" if row["recall"] is None else f"{row['recall']:.3f}"
        p = "-" if row["precision"] is None else f"{row['precision']:.3f}"
        print(f"{kind:8} {row['recorded']:8d} {r:>7} {row['replaced']:8d} {p:>9}")
    o = report["overall"]
    print(f"{'overall':8} {o['recorded']:8d} {o['recall']:7.3f} {o['replaced']:8d} {o['precision']:9.3f}")
    if "kappa" in report:
        k = report["kappa"]
        print(f"mean kappa vs reference: original {k['original']['mean_kappa']:.4f}, pseudonymised "
              f"{k['pseudonymised']['mean_kappa']:.4f}, change {k['change']:+.4f}")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
