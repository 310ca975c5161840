"""Generate the SYNTHETIC type 2 diabetes study (transcripts, metadata, codebooks, gold).

Written by a helper for a stranger test of psythemes (2026-12-08): a team's 58-code, three-level,
multi-label codebook in NVivo and MAXQDA export styles, and gold by two coders.  Run
``python gen.py DIR`` to write it into DIR.
"""
# ruff: noqa: E501, UP031  (a data generator: long sentence templates kept on one line)
import csv
import random
import sys
from pathlib import Path

import openpyxl
from codes_spec import CODES, HEADINGS, PARTNERS

R = random.Random(20261208)
# where the study is written: the folder given (python gen.py DIR), else beside this file
ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
(ROOT / "transcripts").mkdir(exist_ok=True)
(ROOT / "codebook").mkdir(exist_ok=True)
(ROOT / "gold").mkdir(exist_ok=True)

SLOTS = {
    "money": ["twenty pounds", "nine ninety", "thirty quid", "a tenner"],
    "bill": ["gas", "electric", "phone", "water"],
    "food_cheap": ["pasta", "chips", "sandwiches", "beans on toast"],
    "workplace": ["hospital", "warehouse", "care home", "factory", "bakery"],
    "month": ["March", "last summer", "January", "the autumn"],
    "relative": ["wife", "husband", "daughter", "son", "sister", "brother", "partner", "mum"],
    "weekday": ["Tuesday", "Thursday", "Saturday", "Monday"],
    "carbs": ["thirty", "forty", "fifty"],
    "steps": ["eight thousand", "ten thousand", "five thousand"],
    "times": ["three", "four", "two"],
    "reading": ["seven", "eight point five", "six point two", "nine"],
    "benefit": ["my pension", "universal credit", "one wage"],
    "kilos": ["six", "ten", "fifteen", "four"],
}
OPENERS = ["", "", "", "Well, ", "Honestly, ", "I mean, ", "To be fair, ", "The thing is, ", "Oh, ",
           "Yeah, ", "I suppose ", "Right, so ", "Hmm, "]
TAILS = ["", "", "", " You know?", " If that makes sense.", " That's the honest truth.",
         " It is what it is.", " I don't know if that's normal.", " That's how it's been anyway."]
FILLER = ["I live with my {relative} in a terraced house.", "I was a {workplace} worker for most of my life.",
          "That was about two years ago now.", "It's hard to put into words really.",
          "I've got two grandchildren who keep me busy.", "We moved here in the nineties.",
          "I'm not really one for talking about myself.", "Let me think about that for a second.",
          "The weather's been awful this week hasn't it.", "I retired early because of my back."]
QUESTIONS = {
    None: ["Can you tell me a bit about yourself?", "And how has that been for you?",
           "What happened next?", "Could you say a bit more about that?", "How did that make you feel?",
           "Is there anything else you'd like to add?", "What's a typical day like for you?",
           "How do you feel about that now?", "Okay. And what about the last few months?"],
    "Barriers": ["What makes it harder to look after your diabetes?", "Are there things that get in the way?"],
    "Facilitators": ["What helps you manage day to day?", "Who or what has helped you most?"],
    "Emotional Burden": ["How do you feel about having diabetes?", "What was it like when you were diagnosed?"],
    "Self-management": ["Can you talk me through what you do to manage it?", "What about food and exercise?"],
    "Healthcare relationships": ["How do you get on with the people at the surgery?", "Tell me about your appointments."],
    "Knowledge and beliefs": ["What do you understand diabetes to be?", "Where do you get your information from?"],
    "Social context": ["How does it fit in with family and work?", "Does it affect your social life?"],
    "Complications and symptoms": ["Have you had any symptoms or complications?", "How is your health otherwise?"],
    "Coping": ["How do you cope with it all?", "What keeps you going?"],
}
NAMES = ["Margaret Ellis", "Derek Walsh", "Priya Shah", "Tomasz Nowak", "Janet Hughes", "Ade Okafor",
         "Linda Mercer", "Graham Bell", "Farida Begum", "Kevin O'Brien", "Sandra Price", "Imran Qureshi",
         "Helen Booth", "Winston Clarke", "Maureen Dunn", "Yusuf Ali", "Carol Jenkins", "Peter Hollis",
         "Nasreen Akhtar", "Brian Foley", "Gloria Mensah", "Stuart Lamb", "Irene Kowalski", "Raj Patel"]
INTERVIEWERS = ["Amina Khan", "Tom Reid"]
codes = {p: (d, t) for p, d, t in CODES}
paths = list(codes)


def fill(template):
    out = template
    for k, v in SLOTS.items():
        while "{" + k + "}" in out:
            out = out.replace("{" + k + "}", R.choice(v), 1)
    return out


def pick_codes(doc_focus):
    n = R.choices([0, 1, 2, 3], [0.15, 0.40, 0.35, 0.10])[0]
    chosen = []
    while len(chosen) < n:
        if chosen and chosen[0] in PARTNERS and R.random() < 0.6:
            c = R.choice(PARTNERS[chosen[0]])
        elif R.random() < 0.5:
            c = R.choice(doc_focus)
        else:
            c = R.choice(paths)
        if c not in chosen:
            chosen.append(c)
    return chosen


def fmt_time(sec):
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


truth = []   # doc, turn, code, quote
meta = []
n_turns = 0
for i in range(24):
    doc = f"P{i + 1:02d}"
    name = NAMES[i]
    interviewer = INTERVIEWERS[i % 2]
    otter = i < 12
    doc_focus = R.sample(paths, 8)
    meta.append({"doc_id": doc, "participant": doc, "role": "patient", "gender": R.choice(["female", "male"]),
                 "age": R.randint(38, 84), "years_since_diagnosis": R.randint(0, 20),
                 "treatment": R.choice(["diet only", "metformin", "metformin + gliclazide", "insulin"]),
                 "interview_date": f"2025-{(i // 4) + 3:02d}-{(i % 4) * 6 + 2:02d}"})
    turns = []
    turns.append(("I", "Thanks for agreeing to take part. Can you start by telling me about when you were diagnosed?"))
    n_pt = R.randint(38, 56)
    for t in range(n_pt):
        cs = pick_codes(doc_focus)
        parts, quotes = [], []
        if R.random() < 0.5 or not cs:
            parts.append(fill(R.choice(FILLER)))
        for c in cs:
            k = 2 if R.random() < 0.3 else 1
            sents = [fill(s) for s in R.sample(codes[c][1], min(k, len(codes[c][1])))]
            op = R.choice(OPENERS)
            sents[0] = op + (sents[0][0].lower() + sents[0][1:] if op and not sents[0].startswith("I ") and not sents[0].startswith("I'") else sents[0])
            quote = " ".join(sents)
            parts.append(quote)
            quotes.append((c, quote))
        text = " ".join(parts) + R.choice(TAILS)
        turns.append(("P", text, quotes))
        top = cs[0].split("\\")[0] if cs and R.random() < 0.4 else None
        if t < n_pt - 1:
            turns.append(("I", R.choice(QUESTIONS[top if top in QUESTIONS else None])))
    # write
    lines = []
    clock = 3
    pt_index = 0
    for tr in turns:
        who = interviewer if tr[0] == "I" else name
        if otter:
            lines.append(f"{who}  {fmt_time(clock)}")
            lines.append(tr[1])
            lines.append("")
        else:
            label = "Interviewer" if tr[0] == "I" else "Participant"
            lines.append(f"{label}: {tr[1]}")
            lines.append("")
        clock += 5 + len(tr[1]) // 12
        if tr[0] == "P":
            for c, q in tr[2]:
                truth.append({"doc_id": doc, "turn": pt_index, "code": c, "quote": q, "turn_text": tr[1]})
            if not tr[2]:
                truth.append({"doc_id": doc, "turn": pt_index, "code": "", "quote": "", "turn_text": tr[1]})
            pt_index += 1
    n_turns += len(turns)
    (ROOT / "transcripts" / f"{doc}.txt").write_text("\n".join(lines), encoding="utf-8")

with open(ROOT / "metadata.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(meta[0]))
    w.writeheader()
    w.writerows(meta)
with open(ROOT / "truth.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["doc_id", "turn", "code", "quote", "turn_text"])
    w.writeheader()
    w.writerows(truth)
print("turns", n_turns, "participant turns", len({(t['doc_id'], t['turn']) for t in truth}))

# ---------------- codebooks
# NVivo-style CSV: Name, Description, Hierarchical Name, Files, References (headings without a row for
# 'Emotional Burden'); two descriptions left empty as teams do.
empty_desc = {"Coping\\Humour", "Complications and symptoms\\Tiredness"}
rows = []
for h, d in HEADINGS.items():
    if h == "Emotional Burden":
        continue
    rows.append((h, d))
for p, d, _ in CODES:
    rows.append((p, "" if p in empty_desc else d))
rows.sort(key=lambda r: r[0])
with open(ROOT / "codebook" / "nvivo_codebook.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["Name", "Description", "Hierarchical Name", "Files", "References"])
    for p, d in rows:
        w.writerow([p.split("\\")[-1], d, "Codes\\\\" + p.replace("\\", "\\\\"), R.randint(0, 14), R.randint(0, 60)])

# MAXQDA-style xlsx: Parent code, Code, Description, Color  (Parent code = full path of the parent)
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Codebook"
ws.append(["Parent code", "Code", "Description", "Color"])
for p, d in rows:
    parts = p.split("\\")
    ws.append(["\\".join(parts[:-1]), parts[-1], d, "#%06x" % R.randint(0, 0xFFFFFF)])
wb.save(ROOT / "codebook" / "maxqda_codebook.xlsx")

# ---------------- gold: coder A (MAXQDA Coded Segments xlsx, full-path codes) on P01-P14;
# coder B (ATLAS.ti quotation list CSV, child names in varied case, several codes in one cell) on P09-P14.
def siblings(c):
    par = c.rsplit("\\", 1)[0] if "\\" in c else None
    return [p for p in paths if p != c and par and p.startswith(par + "\\") and p.count("\\") == c.count("\\")]


def noisy(cs, drop, swap):
    out = []
    for c in cs:
        r = R.random()
        if r < drop:
            continue
        if r < drop + swap and siblings(c):
            c = R.choice(siblings(c))
        if c not in out:
            out.append(c)
    return out


by_turn = {}
for t in truth:
    by_turn.setdefault((t["doc_id"], t["turn"]), []).append(t)

wbA = openpyxl.Workbook()
wsA = wbA.active
wsA.title = "Coded Segments"
wsA.append(["Color", "Document group", "Document name", "Code", "Begin", "End", "Weight score", "Segment",
            "Modified by", "Modified", "Created by", "Created", "Area", "Coverage %"])
b_rows = []
for (doc, turn), ts in sorted(by_turn.items()):
    num = int(doc[1:])
    true_codes = [t["code"] for t in ts if t["code"]]
    quote_of = {t["code"]: t["quote"] for t in ts if t["code"]}
    if num <= 14:
        for c in noisy(true_codes, 0.07, 0.07):
            q = quote_of.get(c) or ts[0]["turn_text"]  # swapped code: the coder quotes the whole turn
            wsA.append(["#ff0000", "Interviews", doc, c, turn + 1, turn + 1, 0, q, "A", "2025-06-01", "A",
                        "2025-06-01", len(q), 1.0])
    if 9 <= num <= 14:
        bc = noisy(true_codes, 0.10, 0.10)
        if bc:
            style = [str.lower, str.upper, str.title, lambda s: s, lambda s: s]
            labels = [R.choice(style)(c.split("\\")[-1]) for c in bc]
            b_rows.append({"ID": f"{num}:{turn + 1}", "Quotation Name": ts[0]["turn_text"][:30],
                           "Document": f"{doc}.txt", "Codes": "\n".join(labels),
                           "Quotation Content": ts[0]["turn_text"], "Comment": ""})
wbA.save(ROOT / "gold" / "coderA_maxqda_coded_segments.xlsx")
with open(ROOT / "gold" / "coderB_atlasti_quotations.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.DictWriter(f, fieldnames=list(b_rows[0]))
    w.writeheader()
    w.writerows(b_rows)
print("coder A rows", wsA.max_row - 1, "coder B rows", len(b_rows))
