"""Zero-shot and few-shot mapping on toy data with a fake embedder (plus one test with the real model)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from psythemes.codebook import codebook_from_dict, load_codebook
from psythemes.errors import InputError, NotFittedError, PsythemesWarning
from psythemes.mapping import (
    EVIDENCE_COLUMN,
    FewShotMapper,
    ZeroShotMapper,
    agreement_scores,
    grouped_cross_validate,
    grouped_splits,
    labels_from_gold,
    map_themes,
    surface_features,
)
from psythemes.mapping.features import SURFACE_NAMES
from psythemes.schema import CODE_COLUMNS, SEGMENT_COLUMNS, make_segment_id

# Each dimension of the fake embedding counts the words of one group.
GROUPS = [
    r"\b(?:body|exercise|exercises|breathing|stretch)\b",
    r"\b(?:trust|trusted|listen|listened|safe)\b",
    r"\b(?:agree|agreed|explanation)\b",
    r"\b(?:bus|weather|football)\b",
]


class FakeEmbedder:
    """Controlled vectors: word-group counts plus a small constant, L2-normalised."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), len(GROUPS) + 1), dtype=np.float32)
        for i, text in enumerate(texts):
            for j, pattern in enumerate(GROUPS):
                out[i, j] = len(re.findall(pattern, text.lower()))
            out[i, -1] = 0.1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


TOY = codebook_from_dict({
    "name": "toy",
    "codes": [
        {"name": "body", "definition": "Body exercise and breathing.", "include": ["doing an exercise"],
         "examples": ["a breathing exercise", "we did a body exercise", "stretch and breathing"],
         "counter_examples": ["football on the weather"], "roles": ["patient"]},
        {"name": "trust", "definition": "Trust, feeling safe, being listened to.",
         "examples": ["I trusted her", "she listened and I felt safe", "trust"]},
        {"name": "agree", "definition": "Agree on an explanation.",
         "examples": ["we agreed on an explanation", "agree"]},
    ],
})


def frame(texts, doc="d1", roles=None, speakers=None):
    starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    rows = []
    # not strict: with no texts, starts still holds its leading 0
    for k, (text, start) in enumerate(zip(texts, starts, strict=False)):
        role = roles[k] if roles else "patient"
        speaker = speakers[k] if speakers else role
        rows.append({"doc_id": doc, "segment_id": make_segment_id(doc, int(start), int(start) + len(text)),
                     "speaker": speaker, "role": role, "start": int(start), "end": int(start) + len(text),
                     "text": text, "t_start": np.nan, "t_end": np.nan})
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


# ---------------------------------------------------------------------------- zero-shot


def test_zero_shot_abstains_and_multilabels():
    segs = frame(["a breathing exercise on my body", "the bus and the weather and football",
                  "I trusted her, felt safe and did a breathing exercise"])
    mapper = ZeroShotMapper(TOY, embedder=FakeEmbedder()).fit()
    codes = mapper.predict(segs)
    assert list(codes.columns) == [*CODE_COLUMNS, EVIDENCE_COLUMN]
    by_seg = codes.groupby("segment_id")["code"].apply(set).to_dict()
    ids = segs["segment_id"].tolist()
    assert by_seg[ids[0]] == {"body"}
    assert ids[1] not in by_seg  # abstains: never forced into the nearest code
    assert by_seg[ids[2]] == {"body", "trust"}  # multi-label
    assert (codes["method"] == "zero-shot").all()
    ev = codes.set_index(["segment_id", "code"])[EVIDENCE_COLUMN]
    assert "breathing" in ev[(ids[0], "body")]
    scores = mapper.decision_function(segs)
    assert list(scores.columns) == ["body", "trust", "agree"] and list(scores.index) == ids
    assert mapper.predict_single(segs, fallback="none") == ["body", "none", mapper.predict_single(segs)[2]]


def test_zero_shot_options():
    segs = frame(["I trusted her and we did a breathing exercise", "we agreed"], roles=["therapist", "patient"])
    emb = FakeEmbedder()
    one = ZeroShotMapper(TOY, embedder=emb, max_codes=1).fit().predict(segs)
    assert one.groupby("segment_id").size().max() == 1
    # "body" lists roles [patient]: the therapist segment cannot get it
    assert "body" not in set(one.loc[one["segment_id"] == segs["segment_id"][0], "code"])
    everything = ZeroShotMapper(TOY, embedder=emb, threshold=-1.0, role_filter=False).fit().predict(segs)
    assert len(everything) == 2 * 3
    per_code = ZeroShotMapper(TOY, embedder=emb, threshold={"agree": 2.0}).fit()
    assert per_code.thresholds_["agree"] == 2.0 and "agree" not in set(per_code.predict(segs)["code"])
    with pytest.raises(InputError, match="unknown code"):
        ZeroShotMapper(TOY, embedder=emb, threshold={"nope": 0.1}).fit()
    with pytest.raises(InputError, match="threshold must be"):
        ZeroShotMapper(TOY, embedder=emb, threshold="high").fit()
    with pytest.raises(NotFittedError, match="not fitted"):
        ZeroShotMapper(TOY, embedder=emb).predict(segs)
    with pytest.raises(InputError, match="lacks column"):
        ZeroShotMapper(TOY, embedder=emb).fit().predict(segs.drop(columns=["text"]))


def test_zero_shot_cues_and_unlabelled_calibration():
    segs = frame(["football?", "the weather"])
    cued = ZeroShotMapper(TOY, embedder=FakeEmbedder(), cues={"agree": [r"\?$"]}, cue_weight=5.0).fit()
    assert cued.predict_single(segs) == ["agree", None]
    with pytest.raises(InputError, match="unknown code"):
        ZeroShotMapper(TOY, embedder=FakeEmbedder(), cues={"nope": ["x"]}).fit()
    plain = ZeroShotMapper(TOY, embedder=FakeEmbedder()).fit()
    body_heavy = frame(["breathing exercise"] * 5 + ["trust"] * 2)
    calibrated = ZeroShotMapper(TOY, embedder=FakeEmbedder()).fit(body_heavy)
    # a code cannot take more than half of an unlabelled corpus
    assert calibrated.thresholds_["body"] >= plain.thresholds_["body"]
    assert calibrated.thresholds_["body"] >= np.median(plain.decision_function(body_heavy)["body"])


def test_map_themes():
    mapper = ZeroShotMapper(TOY, embedder=FakeEmbedder()).fit()
    themes = pd.DataFrame({"theme_id": [0, 1], "label": ["a", "b"], "keywords": ["", ""], "size": [3, 2]})
    cents = FakeEmbedder().encode(["breathing exercise", "bus weather"])
    out = map_themes(themes, cents, mapper, quotes={0: ["a breathing exercise"]})
    assert out["best_code"].tolist() == ["body", ""]
    assert {"score_body", "score_trust", "score_agree"} <= set(out.columns)
    assert out.loc[0, "quotes"] == "a breathing exercise"
    with pytest.raises(InputError, match="centroids"):
        map_themes(themes, cents[:1], mapper)


# ---------------------------------------------------------------------------- few-shot

SENTENCES = {
    "body": ["we did a breathing exercise", "a body stretch", "exercise for the body", "breathing again"],
    "trust": ["I trusted her", "she listened", "I felt safe", "trust is there"],
    None: ["the bus was late", "nice weather", "football last night", "okay then"],
}


def toy_corpus(n_docs=6, seed=0):
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for d in range(n_docs):
        texts, y, roles = [], [], []
        for k in range(12):
            key = [None, "body", "trust"][k % 3]
            texts.append(str(rng.choice(SENTENCES[key])))
            y.append(key)
            roles.append("patient" if k % 2 else "therapist")
        frames.append(frame(texts, doc=f"doc{d}", roles=roles))
        labels += y
    return pd.concat(frames, ignore_index=True), labels


@pytest.mark.parametrize("multi", [False, True])
def test_few_shot_learns_toy_codes(multi):
    segs, y = toy_corpus()
    target = [[v] if v else [] for v in y] if multi else y
    model = FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, target)
    assert model.mode_ == ("multi" if multi else "single")
    pred = model.predict_single(segs)
    assert agreement_scores(y, pred)["kappa"] > 0.9
    codes = model.predict(segs)
    assert list(codes.columns) == CODE_COLUMNS and set(codes["code"]) <= {"body", "trust"}
    assert (codes["method"] == "few-shot").all()
    proba = model.decision_function(segs)
    assert list(proba.columns) == ["body", "trust"]


def test_few_shot_rejects_bad_labels():
    segs, y = toy_corpus(2)
    with pytest.raises(InputError, match="not in the codebook"):
        FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, ["nope"] * len(segs))
    with pytest.raises(InputError, match="label entries"):
        FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, y[:-1])
    with pytest.raises(InputError, match="two different classes"):
        FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, ["body"] * len(segs))
    with pytest.raises(NotFittedError, match="not fitted"):
        FewShotMapper(TOY, embedder=FakeEmbedder()).predict(segs)



def test_mappers_clone_and_round_trip_their_params():
    """get_params / set_params / sklearn.base.clone, as scikit-learn model selection uses them."""
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    segs, y = toy_corpus(4)
    zero = ZeroShotMapper(TOY, embedder=FakeEmbedder(), threshold={"agree": 0.5}, roles=("patient",),
                          cues={"agree": [r"\?$"]})
    params = zero.get_params(deep=False)
    assert params["threshold"] == {"agree": 0.5} and params["roles"] == ("patient",) and params["codebook"] is TOY
    assert ZeroShotMapper(**params).get_params(deep=False) == params
    few = FewShotMapper(TOY, embedder=FakeEmbedder(), roles=("patient",), C=0.5).fit(segs, y)
    assert FewShotMapper(**few.get_params(deep=False)).get_params(deep=False) == few.get_params(deep=False)
    assert few.get_params()["roles"] == ("patient",)  # stored as given, not converted
    twin = clone(few)
    assert not hasattr(twin, "coef_") and twin.get_params(deep=False).keys() == few.get_params(deep=False).keys()
    pd.testing.assert_frame_equal(twin.fit(segs, y).predict(segs), few.predict(segs))
    for grid in ParameterGrid({"max_codes": [1, None], "negative_weight": [0.0, 0.5]}):
        mapper = clone(zero).set_params(**grid).fit()
        assert mapper is not zero and {k: mapper.get_params()[k] for k in grid} == grid
        with pytest.warns(PsythemesWarning, match="took no segment: agree"):  # no question marks in segs
            codes = mapper.predict(segs)
        assert codes.groupby("segment_id").size().max() <= (grid["max_codes"] or 3)
    assert clone(few).set_params(C=2.0, context="none").fit(segs, y).coef_.shape[0] == len(few.classes_)
    with pytest.raises(ValueError, match="not a parameter"):
        zero.set_params(nope=1)

def test_grouped_cv_never_shares_a_document():
    segs, y = toy_corpus(6)
    result = grouped_cross_validate(lambda: FewShotMapper(TOY, embedder=FakeEmbedder()), segs, y, n_splits=3)
    assert result["n_splits"] == 3 and len(result["folds"]) == 3
    tested = set()
    for fold in result["folds"]:
        assert not set(fold["train_docs"]) & set(fold["test_docs"])
        tested |= set(fold["test_docs"])
    assert tested == set(segs["doc_id"])  # every document is tested exactly once
    assert result["kappa_mean"] > 0.8
    multi = grouped_cross_validate(lambda: FewShotMapper(TOY, embedder=FakeEmbedder()), segs,
                                   [[v] if v else [] for v in y], n_splits=2)
    assert set(multi["folds"][0]["per_code_kappa"]) == {"body", "trust"}
    assert multi["f1_present_mean"] > 0.8 and "f1_present_mean" not in result  # multi-label only

    class CodesNothing(FewShotMapper):
        def predict(self, segments, all_segments=None):
            return super().predict(segments, all_segments=all_segments).iloc[0:0]

    blank = grouped_cross_validate(lambda: CodesNothing(TOY, embedder=FakeEmbedder()), segs,
                                   [[v] if v else [] for v in y], n_splits=2)
    # coding nothing: presence F1 is 0, while the present/absent average still looks like a score
    assert blank["f1_present_mean"] == 0.0 and blank["macro_f1_mean"] > 0.3
    groups = segs["doc_id"].to_numpy()
    for train, test in grouped_splits(groups, 0.5, n_splits=4, random_state=1):
        assert not set(groups[train]) & set(groups[test])


def test_few_shot_self_training_on_the_segments_to_code(tmp_path):
    """Single-label data: the most confident predictions for the unlabelled segments become pseudo-examples."""
    segs, y = toy_corpus(6)
    coded = [i for i, v in enumerate(y) if v]
    train = [i for i in coded if segs["doc_id"].iloc[i] in ("doc0", "doc1")]
    pool = segs[~segs["doc_id"].isin(["doc0", "doc1"])]
    kw = {"embedder": FakeEmbedder(), "single_label": True, "C": 0.5}
    plain = FewShotMapper(TOY, self_training=None, **kw).fit(segs.iloc[train], [y[i] for i in train],
                                                             unlabelled=pool)
    selftrained = FewShotMapper(TOY, self_training=0.5, **kw).fit(segs.iloc[train], [y[i] for i in train],
                                                                  unlabelled=pool)
    assert plain.n_pseudo_ == {}
    # half of the 48 pool segments predicted as each code (all of them are predicted as body or trust)
    assert set(selftrained.n_pseudo_) <= {"body", "trust"} and sum(selftrained.n_pseudo_.values()) == 24
    # refitted: the n-gram vocabularies now include the pool's words
    assert selftrained.coef_.shape[1] > plain.coef_.shape[1]
    assert selftrained.n_train_ == len(train)  # gold segments only
    # without a pool, or with roles that leave none of it, nothing is self-trained
    assert FewShotMapper(TOY, **kw).fit(segs.iloc[train], [y[i] for i in train]).n_pseudo_ == {}
    only = FewShotMapper(TOY, roles=["nurse"], **kw)
    with pytest.raises(InputError, match="no training segment"):
        only.fit(segs.iloc[train], [y[i] for i in train], unlabelled=pool)
    # multi-label data are not self-trained
    multi = FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs.iloc[train], [[y[i]] for i in train],
                                                           unlabelled=pool)
    assert multi.mode_ == "multi" and multi.n_pseudo_ == {}
    with pytest.raises(InputError, match="self_training must be a share"):
        FewShotMapper(TOY, self_training=2, **kw).fit(segs.iloc[train], [y[i] for i in train])
    card = json.loads((selftrained.save(tmp_path / "m") / "card.json").read_text())
    assert card["n_pseudo_examples"] == selftrained.n_pseudo_ and card["params"]["self_training"] == 0.5
    assert "pseudo-examples from self-training" in (tmp_path / "m" / "model_card.md").read_text()
    assert FewShotMapper.load(tmp_path / "m", embedder=FakeEmbedder()).n_pseudo_ == selftrained.n_pseudo_


def test_few_shot_says_when_segments_without_a_role_get_no_code():
    # segmented without metadata, every participant segment had role "" and a model trained on
    # patient turns coded none of them: "0 codes assigned to 0 segments" without a word
    segs, y = toy_corpus(4)
    model = FewShotMapper(TOY, roles=["patient"], embedder=FakeEmbedder()).fit(segs, y)
    roleless = segs.assign(role="")
    with pytest.warns(PsythemesWarning, match=r"48 of 48 segments have no role and get no code: the mapper codes "
                                              r"only the roles its gold coded \(patient\)"):
        assert model.predict(roleless).empty
    with warnings.catch_warnings():  # segments of another role are left uncoded by design: no warning
        warnings.simplefilter("error", PsythemesWarning)
        model.predict(segs)


def test_grouped_cv_self_trains_on_the_held_out_fold():
    seen = []

    class Recording(FewShotMapper):
        def fit(self, segments, y, all_segments=None, unlabelled=None):
            seen.append((set(segments["doc_id"]), set(unlabelled["doc_id"])))
            return super().fit(segments, y, all_segments=all_segments, unlabelled=unlabelled)

    segs, y = toy_corpus(4)
    grouped_cross_validate(lambda: Recording(TOY, embedder=FakeEmbedder()), segs, y, n_splits=2)
    assert len(seen) == 2 and all(not train & pool and train | pool == set(segs["doc_id"]) for train, pool in seen)


def test_save_load_round_trip(tmp_path):
    segs, y = toy_corpus()
    model = FewShotMapper(TOY, embedder=FakeEmbedder(), random_state=3).fit(segs, y)
    out = model.save(tmp_path / "m", training_data="toy", metrics={"kappa_mean": 1.0})
    expected = {"model.json", "weights.npz", "codebook.yaml", "card.json", "model_card.md"}
    assert expected <= {p.name for p in out.iterdir()}
    card = json.loads((out / "card.json").read_text())
    assert card["codebook_hash"] == TOY.hash() and card["random_state"] == 3 and card["training_data"] == "toy"
    assert "scikit-learn" in card["versions"] and "no pickle" in card["serialisation"]
    assert "grouped by transcript" in (out / "model_card.md").read_text()
    again = FewShotMapper.load(out, embedder=FakeEmbedder())
    np.testing.assert_allclose(again.predict_proba(segs).to_numpy(), model.predict_proba(segs).to_numpy(),
                               rtol=1e-5, atol=1e-6)
    pd.testing.assert_frame_equal(again.predict(segs), model.predict(segs))
    with pytest.raises(InputError, match="model.json missing"):
        FewShotMapper.load(tmp_path)
    (out / "codebook.yaml").write_text((out / "codebook.yaml").read_text().replace("Agree on", "Agree about"))
    with pytest.raises(InputError, match="does not match"):
        FewShotMapper.load(out, embedder=FakeEmbedder())


def test_sentence_ends_split_turns_and_embed_only_longer_ones():
    from psythemes.mapping.features import sentence_end_features, sentence_ends

    texts = ["Okay. So you felt safe with her?", "Trust.", "We did a body exercise! Then we talked. Agreed?"]
    first, last, counts = sentence_ends(texts)
    assert first == ["Okay.", "Trust.", "We did a body exercise!"]
    assert last == ["So you felt safe with her?", "Trust.", "Agreed?"]
    assert counts.tolist() == [2, 1, 3]

    class Recording(FakeEmbedder):
        def __init__(self):
            super().__init__()
            self.seen = []

        def encode(self, texts):
            self.seen += list(texts)
            return super().encode(texts)

    emb = Recording()
    own = emb.encode(texts)
    emb.seen.clear()
    blocks = sentence_end_features(texts, own, emb, "last")
    assert emb.seen == ["So you felt safe with her?", "Agreed?"]  # the one-sentence turn reuses its vector
    np.testing.assert_allclose(blocks[0][1], own[1])
    assert blocks[1][0, 0] == 1.0 and blocks[1][1, 0] == 0.0  # the last sentence ends with "?"
    assert len(sentence_end_features(texts, own, emb, "both")) == 5


def test_few_shot_sentence_ends_option(tmp_path):
    segs, y = toy_corpus()
    width = {}
    for ends in ("none", "last", "both"):
        model = FewShotMapper(TOY, embedder=FakeEmbedder(), sentence_ends=ends, C=0.1).fit(segs, y)
        width[ends] = len(model.dense_mean_)
    d, n_surface = len(GROUPS) + 1, len(SURFACE_NAMES)
    assert width["last"] - width["none"] == d + n_surface + 1
    assert width["both"] - width["none"] == 2 * (d + n_surface) + 1
    with pytest.raises(InputError, match="sentence_ends must be"):
        FewShotMapper(TOY, embedder=FakeEmbedder(), sentence_ends="first").fit(segs, y)
    # a model saved before the option existed was trained without these features and still loads
    old = FewShotMapper(TOY, embedder=FakeEmbedder(), sentence_ends="none", C=0.1).fit(segs, y)
    out = old.save(tmp_path / "old")
    spec = json.loads((out / "model.json").read_text())
    del spec["params"]["sentence_ends"]
    (out / "model.json").write_text(json.dumps(spec))
    again = FewShotMapper.load(out, embedder=FakeEmbedder())
    assert again.sentence_ends == "none"
    pd.testing.assert_frame_equal(again.predict(segs), old.predict(segs))


def test_saved_model_records_and_reuses_its_embedding_backend(tmp_path, monkeypatch):
    import psythemes.mapping as mapping_mod
    from psythemes.mapping import model_embedding_backend

    class TorchFake(FakeEmbedder):
        backend_ = "torch"

    class OnnxFake(FakeEmbedder):
        backend_ = "onnx"

    segs, y = toy_corpus()
    out = FewShotMapper(TOY, embedder=TorchFake()).fit(segs, y).save(tmp_path / "m")
    assert model_embedding_backend(out) == "torch"
    assert json.loads((out / "card.json").read_text())["embedding_backend"] == "torch"
    assert "torch backend" in (out / "model_card.md").read_text()
    # without an embedder, the model embeds with the backend it was trained on
    asked = []
    monkeypatch.setattr(mapping_mod, "default_embedder", lambda backend=None: asked.append(backend) or TorchFake())
    assert FewShotMapper.load(out).embedding_backend_ == "torch" and asked == ["torch"]
    # given vectors of another backend, it says so
    with pytest.warns(UserWarning, match="trained on torch embeddings and is given onnx"):
        FewShotMapper.load(out, embedder=OnnxFake())
    # an explicit record wins over the embedder's; models without a record fall back to the default
    other = FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, y).save(tmp_path / "n", embedding_backend="onnx")
    assert model_embedding_backend(other) == "onnx"
    plain = FewShotMapper(TOY, embedder=FakeEmbedder()).fit(segs, y).save(tmp_path / "o")
    assert model_embedding_backend(plain) is None
    assert model_embedding_backend(tmp_path / "missing") is None


def test_previous_turn_context_is_used():
    # the label depends only on the previous turn: only the context features can learn it
    texts, y = [], []
    rng = np.random.default_rng(0)
    for _ in range(120):
        prompt = str(rng.choice(["breathing exercise", "trust"]))
        texts += [prompt, "okay then"]
        y += [None, "body" if "breathing" in prompt else "trust"]
    segs = frame(texts, doc="d")
    segs["doc_id"] = [f"d{k // 20}" for k in range(len(segs))]
    keep = [i for i, v in enumerate(y) if v]
    with_ctx = FewShotMapper(TOY, embedder=FakeEmbedder(), tfidf=False).fit(segs.iloc[keep], [y[i] for i in keep],
                                                                             all_segments=segs)
    no_ctx = FewShotMapper(TOY, embedder=FakeEmbedder(), tfidf=False, context="none").fit(segs.iloc[keep],
                                                                                          [y[i] for i in keep])
    gold = [y[i] for i in keep]
    assert agreement_scores(gold, with_ctx.predict_single(segs.iloc[keep], all_segments=segs))["kappa"] > 0.9
    assert agreement_scores(gold, no_ctx.predict_single(segs.iloc[keep]))["kappa"] < 0.3


def test_position_features_are_used(tmp_path):
    # identical texts; the code depends only on where the turn is in its document
    frames, y = [], []
    for d in range(8):
        frames.append(frame(["okay then"] * 10, doc=f"d{d}"))
        y += ["trust"] * 5 + ["body"] * 5
    segs = pd.concat(frames, ignore_index=True)
    with_pos = FewShotMapper(TOY, embedder=FakeEmbedder(), tfidf=False, context="none", position=True,
                             C=1.0).fit(segs, y)
    no_pos = FewShotMapper(TOY, embedder=FakeEmbedder(), tfidf=False, context="none", C=1.0).fit(segs, y)
    assert agreement_scores(y, with_pos.predict_single(segs))["kappa"] > 0.9
    assert agreement_scores(y, no_pos.predict_single(segs))["kappa"] < 0.3
    # positions come from all_segments: scoring a subset gives the same result as scoring all
    part = segs.iloc[::3]
    assert with_pos.predict_single(part, all_segments=segs) == with_pos.predict_single(segs)[::3]
    again = FewShotMapper.load(with_pos.save(tmp_path / "m"), embedder=FakeEmbedder())
    assert again.position and again.predict_single(segs) == with_pos.predict_single(segs)


def test_neighbour_surface_and_length_bins(tmp_path):
    # the code depends only on whether the previous turn was a question: neighbour surface cues learn it
    texts, y = [], []
    for k in range(120):
        texts += ["trust?" if k % 2 else "trust.", "okay then"]
        y += [None, "body" if k % 2 else "trust"]
    segs = frame(texts, doc="d")
    segs["doc_id"] = [f"d{k // 20}" for k in range(len(segs))]
    keep = [i for i, v in enumerate(y) if v]
    gold = [y[i] for i in keep]
    kw = {"embedder": FakeEmbedder(), "tfidf": False, "context": "previous", "prototypes": False, "C": 1.0}
    with_nb = FewShotMapper(TOY, neighbour_surface=True, length_bins=True, **kw).fit(segs.iloc[keep], gold,
                                                                                    all_segments=segs)
    without = FewShotMapper(TOY, neighbour_surface=False, length_bins=False, **kw).fit(segs.iloc[keep], gold,
                                                                                      all_segments=segs)
    assert FewShotMapper().neighbour_surface and FewShotMapper().length_bins  # the defaults
    assert with_nb.coef_.shape[1] == without.coef_.shape[1] + 8 + 6  # 8 surface cues, 6 length bins
    assert agreement_scores(gold, with_nb.predict_single(segs.iloc[keep], all_segments=segs))["kappa"] > 0.9
    assert agreement_scores(gold, without.predict_single(segs.iloc[keep], all_segments=segs))["kappa"] < 0.3
    again = FewShotMapper.load(with_nb.save(tmp_path / "m"), embedder=FakeEmbedder())
    assert again.neighbour_surface and again.length_bins
    np.testing.assert_allclose(again.predict_proba(segs.iloc[keep], all_segments=segs).to_numpy(),
                               with_nb.predict_proba(segs.iloc[keep], all_segments=segs).to_numpy(),
                               rtol=1e-5, atol=1e-6)


def test_labels_from_gold_overlap_rule():
    segs = frame(["aaaa", "bbbb", "cccc"])  # offsets 0-4, 5-9, 10-14
    gold = pd.DataFrame({"doc_id": ["d1", "d1", "d1"], "start": [0, 6, 11], "end": [4, 14, 12],
                         "code": ["x", "y", "z"]})
    assert labels_from_gold(segs, gold) == [["x"], ["y"], ["y", "z"]]
    assert labels_from_gold(segs, gold, single=True)[:2] == ["x", "y"]
    with pytest.raises(InputError, match="lacks column"):
        labels_from_gold(segs, gold.drop(columns=["code"]))


def test_surface_features():
    feats = surface_features(["What do you think?", "So you feel tired.", "Mm-hmm!"])
    assert feats.shape == (3, 8)
    assert feats[0, 0] == 1 and feats[0, 3] == 1 and feats[1, 0] == 0 and feats[2, 7] == 1
    assert feats[1, 5] > 0  # second person


@pytest.mark.slow
def test_zero_shot_with_the_real_model():
    segs = frame([
        "She always listened to me and I never felt judged, I really trusted her.",
        "The bus was late this morning so I missed the start of the football match.",
        "We talked first and then did breathing exercises lying on the mat, and then talked about what I felt.",
    ])
    mapper = ZeroShotMapper("psychosomatic").fit()
    by_seg = mapper.predict(segs).groupby("segment_id")["code"].apply(set).to_dict()
    ids = segs["segment_id"].tolist()
    assert "alliance" in by_seg[ids[0]]
    assert ids[1] not in by_seg
    assert "alternation" in by_seg[ids[2]]


# ---------------------------------------------------------------------------- zero-shot without examples

PLAIN = codebook_from_dict({"name": "plain", "codes": [
    {"name": "Body Work", "definition": "Body exercise and breathing."},
    {"name": "TRUST", "definition": "Trust, feeling safe, being listened to."},
]})


def test_zero_shot_plain_codebook_codes_a_realistic_share():
    segs, y = toy_corpus(6)  # a third body, a third trust, a third neither
    fixed = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), self_training=False).fit(segs)
    assert fixed.self_model_ is None
    # by default not below 500 segments (on small corpora it let one code take most of them), said
    with pytest.warns(PsythemesWarning, match="zero-shot without self-training: 72 segments are fewer than the 500"):
        assert ZeroShotMapper(PLAIN, embedder=FakeEmbedder()).fit(segs).self_model_ is None
    mapper = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), self_training=True).fit(segs)
    assert mapper.self_model_ is not None and "__none__" in mapper.self_model_.classes
    pred = mapper.predict_single(segs)
    truth = [{"body": "Body Work", "trust": "TRUST"}.get(v) for v in y]
    assert agreement_scores(truth, pred)["kappa"] > 0.8  # abstains on the third that is neither
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # a realistic share: nothing to say
        codes = mapper.predict(segs)
    assert 0.4 < codes["segment_id"].nunique() / len(segs) < 0.9
    assert set(codes["code"]) == {"Body Work", "TRUST"}
    # a corpus where the self-trained mapper codes every segment: said (coders of a multi-label
    # scheme leave a third or more uncoded; benchmarks/experiments/zeroshot_many_codes.py)
    coded = segs[[v in ("body", "trust") for v in y]].reset_index(drop=True)
    with pytest.warns(PsythemesWarning, match=r"zero-shot coded 100% of the 48 segments, one code each"):
        ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), self_training=True).fit(coded).predict(coded)
    # single-label: every segment gets exactly its best code
    single = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), single_label=True, self_training=True).fit(segs)
    one = single.predict(segs)
    assert len(one) == len(segs) == one["segment_id"].nunique()
    # roles: only those segments are coded
    only = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), roles=["patient"]).fit(segs).predict(segs)
    assert set(segs.set_index("segment_id").loc[only["segment_id"], "role"]) == {"patient"}


def test_zero_shot_single_label_second_stage():
    """Single-label, self-trained: a few-shot mapper trained on the most confident decisions decides."""
    segs, y = toy_corpus(6)
    first = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), single_label=True, refine=None, self_training=True).fit(segs)
    second = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), single_label=True, self_training=True).fit(
        segs, all_segments=segs)
    assert first.refiner_ is None and second.refiner_ is not None and second.refine == 0.3
    refiner = second.refiner_
    assert refiner.single_label and refiner.n_train_ >= 0.3 * len(segs) * 0.9  # the share, ties included
    assert sum(refiner.n_pseudo_.values()) > 0  # it self-trains on the rest
    pred = second.predict_single(segs, all_segments=segs)
    proba = refiner.predict_proba(segs, segs)
    assert pred == [proba.columns[k] for k in proba.to_numpy().argmax(axis=1)]
    codes = second.predict(segs)
    assert len(codes) == len(segs) and set(codes["method"]) == {"zero-shot"}
    # not single-label, or no self-training (a codebook with examples): no second stage
    assert ZeroShotMapper(PLAIN, embedder=FakeEmbedder()).fit(segs).refiner_ is None
    assert ZeroShotMapper(TOY, embedder=FakeEmbedder(), single_label=True).fit(segs).refiner_ is None
    with pytest.raises(InputError, match="refine must be a share"):
        ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), single_label=True, refine=1.5).fit(segs)


def test_zero_shot_second_stage_is_skipped_for_large_codebooks(monkeypatch):
    from psythemes.mapping import zeroshot

    segs, _ = toy_corpus(6)
    monkeypatch.setattr(zeroshot, "_REFINE_MAX_CODES", 1)  # the toy codebook's 2 codes count as "large"
    mapper = ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), single_label=True, self_training=True).fit(segs)
    assert mapper.self_model_ is not None and mapper.refiner_ is None


def test_zero_shot_without_corpus_calibrates_on_the_batch():
    segs, _ = toy_corpus(3)
    mapper = ZeroShotMapper(PLAIN, embedder=FakeEmbedder()).fit()  # no corpus: nothing to calibrate on yet
    assert all(np.isnan(v) for v in mapper.thresholds_.values())
    codes = mapper.predict(segs)
    assert 0 < codes["segment_id"].nunique() < len(segs)


def test_zero_shot_never_codes_nothing_silently():
    segs, _ = toy_corpus(3)
    with pytest.warns(PsythemesWarning, match=r"no code was assigned to any of 36 segments"):
        ZeroShotMapper(PLAIN, embedder=FakeEmbedder(), threshold=5.0).fit(segs).predict(segs)
    with pytest.warns(PsythemesWarning, match=r"1 code\(s\) took no segment: TRUST"):
        ZeroShotMapper(PLAIN, embedder=FakeEmbedder(),
                       threshold={"TRUST": 5.0, "Body Work": -1.0}).fit(segs).predict(segs)
    with pytest.warns(PsythemesWarning, match=r"more than half of the 36 segments: Body Work \(36\)"):
        ZeroShotMapper(PLAIN, embedder=FakeEmbedder(),
                       threshold={"TRUST": 5.0, "Body Work": -1.0}).fit(segs).predict(segs)


def test_free_text_criteria_become_prototypes():
    from psythemes.codebook import _code_from_named_description

    code = _code_from_named_description("Body", "Body exercise. Include: breathing together. Exclude: football talk. "
                                        "Example: 'a body stretch'", [], "code 'Body'", None)
    book = codebook_from_dict({"codes": [{"name": code.name, "definition": code.definition,
                                          "include": list(code.include), "exclude": list(code.exclude),
                                          "examples": list(code.examples)},
                                         {"name": "Trust", "definition": "Trust and feeling safe."}]})
    mapper = ZeroShotMapper(book, embedder=FakeEmbedder()).fit()
    proto = mapper.prototypes_["Body"]
    assert proto.pos_texts[1:] == ["breathing together", "a body stretch"] and proto.neg_texts == ["football talk"]


@pytest.mark.parametrize("multi", [False, True])
def test_few_shot_auto_C_is_chosen_by_grouped_cross_validation(multi, tmp_path):
    """C="auto": every value of C_GRID is scored in folds grouped by document (single-label: the
    lowest log loss wins; multi-label: the highest mean F1 at the threshold), and a fixed C skips
    the search."""
    from psythemes.mapping.fewshot import AUTO_C_FALLBACK, C_GRID

    segs, y = toy_corpus()
    target = [[v] if v else [] for v in y] if multi else y
    model = FewShotMapper(TOY, embedder=FakeEmbedder(), C="auto").fit(segs, target)
    if multi:
        assert model.cv_log_loss_ is None and set(model.cv_macro_f1_) == {str(c) for c in C_GRID}
        assert model.C_ == max(C_GRID, key=lambda c: model.cv_macro_f1_[str(c)])
    else:
        assert model.cv_macro_f1_ is None and set(model.cv_log_loss_) == {str(c) for c in C_GRID}
        assert model.C_ == min(C_GRID, key=lambda c: model.cv_log_loss_[str(c)])
    assert agreement_scores(y, model.predict_single(segs))["kappa"] > 0.9
    loaded = FewShotMapper.load(model.save(tmp_path / "m"), embedder=FakeEmbedder())
    assert loaded.C == "auto" and loaded.C_ == model.C_
    assert loaded.predict_single(segs) == model.predict_single(segs)
    fixed = FewShotMapper(TOY, embedder=FakeEmbedder(), C=0.5).fit(segs, target)
    assert fixed.C_ == 0.5 and fixed.cv_log_loss_ is None
    two_docs = segs[segs["doc_id"].isin(["doc0", "doc1"])]
    # target has one entry per row of segs (fit above checked it)
    two_target = [t for t, d in zip(target, segs["doc_id"], strict=True) if d in ("doc0", "doc1")]
    small = FewShotMapper(TOY, embedder=FakeEmbedder(), C="auto").fit(two_docs, two_target)
    assert small.C_ == AUTO_C_FALLBACK and small.cv_log_loss_ is None
    with pytest.raises(InputError, match="C must be"):
        FewShotMapper(TOY, embedder=FakeEmbedder(), C=0).fit(segs, target)


def test_zero_shot_never_assigns_a_heading_that_only_groups_codes():
    grouped = codebook_from_dict({"name": "grouped", "codes": [
        # the heading's own words match the segments best: it must still never be assigned
        {"name": "BODY AND TRUST", "definition": "Body exercise breathing trust safe listened.", "codable": False,
         "children": [dict(c) for c in ({"name": "body", "definition": "Body exercise and breathing."},
                                        {"name": "trust", "definition": "Trust, feeling safe, being listened to."})]},
        {"name": "agree", "definition": "Agree on an explanation."},
    ]})
    segs = frame(["a breathing exercise, I trusted her and felt safe", "we agreed on an explanation",
                  "she listened, I did the body exercise"])
    mapper = ZeroShotMapper(grouped, embedder=FakeEmbedder(), threshold=-1.0).fit()
    assert mapper.codes_ == ["body", "trust", "agree"]
    codes = mapper.predict(segs)
    assert len(codes) == 3 * 3 and "BODY AND TRUST" not in set(codes["code"])
    assert list(mapper.decision_function(segs).columns) == ["body", "trust", "agree"]
    single = ZeroShotMapper(grouped, embedder=FakeEmbedder(), single_label=True).fit(segs).predict(segs)
    assert "BODY AND TRUST" not in set(single["code"])


def test_best_thresholds_take_the_highest_f1_and_prefer_one_half_on_ties():
    from psythemes.mapping.fewshot import _best_thresholds

    proba = np.array([[0.30, 0.9], [0.28, 0.8], [0.10, 0.2], [0.05, 0.1]])
    Y = np.array([[True, True], [True, True], [False, False], [False, False]])
    thresholds, f1 = _best_thresholds(proba, Y)
    # code 0: any threshold in (0.10, 0.28] separates; the grid value nearest 0.5 is 0.25
    # code 1: every threshold in (0.2, 0.8] separates; 0.5 itself wins the tie
    assert thresholds.tolist() == [0.25, 0.5] and f1.tolist() == [1.0, 1.0]


def test_best_thresholds_never_give_a_code_to_more_than_twice_its_share():
    from psythemes.mapping.fewshot import _best_thresholds

    # 3 of 10 segments have the code; 0.10 has the best F1 (0.6) but gives it to 7 of 10
    proba = np.array([[0.40], [0.12], [0.12], [0.11], [0.11], [0.11], [0.11], [0.05], [0.05], [0.05]])
    Y = proba >= 0.12
    thresholds, f1 = _best_thresholds(proba, Y)
    assert thresholds.tolist() == [0.4] and f1.tolist() == [0.5]  # 1 of 10 given: within 2 x 3
    # a code no threshold of the grid keeps within the cap keeps 0.5
    thresholds, f1 = _best_thresholds(np.full((4, 1), 0.95), np.array([[True], [False], [False], [False]]))
    assert thresholds.tolist() == [0.5] and f1.tolist() == [0.0]


def test_multi_label_thresholds_per_code_are_chosen_in_grouped_cv(tmp_path):
    """threshold="auto": strong regularisation keeps every probability below 0.5, so a fixed 0.5
    codes nothing; thresholds chosen on the out-of-fold probabilities code the toy codes again,
    and they are saved with the model (an older model.json without them uses ``threshold``)."""
    segs, y = toy_corpus()
    target = [[v] if v else [] for v in y]
    fixed = FewShotMapper(TOY, embedder=FakeEmbedder(), C=0.001, threshold=0.5).fit(segs, target)
    assert fixed.thresholds_ == {"body": 0.5, "trust": 0.5} and fixed.predict(segs).empty
    model = FewShotMapper(TOY, embedder=FakeEmbedder(), C=0.001, threshold="auto").fit(segs, target)
    assert all(t < 0.5 for t in model.thresholds_.values())
    assert agreement_scores(y, model.predict_single(segs))["kappa"] > 0.9
    out = model.save(tmp_path / "m")
    assert json.loads((out / "card.json").read_text())["thresholds"] == model.thresholds_
    assert "- Thresholds per code (chosen in grouped cross-validation" in (out / "model_card.md").read_text()
    loaded = FewShotMapper.load(out, embedder=FakeEmbedder())
    assert loaded.thresholds_ == model.thresholds_
    pd.testing.assert_frame_equal(loaded.predict(segs), model.predict(segs))
    spec = json.loads((out / "model.json").read_text())
    del spec["thresholds"]
    spec["params"]["threshold"] = 0.5
    (out / "model.json").write_text(json.dumps(spec))
    assert FewShotMapper.load(out, embedder=FakeEmbedder()).thresholds_ == {"body": 0.5, "trust": 0.5}
    # single-label data take the most probable class: no thresholds
    assert FewShotMapper(TOY, embedder=FakeEmbedder(), C=0.1).fit(segs, y).thresholds_ == {}
    for bad in (0, 1.5, "high"):
        with pytest.raises(InputError, match="threshold must be"):
            FewShotMapper(TOY, embedder=FakeEmbedder(), threshold=bad).fit(segs, target)


def test_zero_shot_without_a_codebook_says_it_uses_the_study_codebook():
    """Standalone, ZeroShotMapper() falls back to the shipped codebook: said, never silent."""
    from psythemes.errors import PsythemesWarning

    with pytest.warns(PsythemesWarning, match="no codebook: coding with the shipped 'psychosomatic'"):
        mapper = ZeroShotMapper(embedder=FakeEmbedder()).fit()
    assert mapper.codes_ == load_codebook("psychosomatic").names


def test_labels_from_gold_wants_a_table_not_a_path():
    from psythemes.errors import InputError
    from psythemes.mapping import labels_from_gold

    segs, _ = toy_corpus(1)
    with pytest.raises(InputError, match=r"not str: read a gold file with psythemes.tables.read_gold"):
        labels_from_gold(segs, "gold.csv")


def test_many_codes_on_each_segment_are_said():
    # a stranger's 40-code codebook gave 2.4 codes per coded turn, up to 9, without a word
    from psythemes.mapping.zeroshot import _warn_many_codes_each

    codes = pd.DataFrame({"segment_id": ["s1"] * 9 + ["s2"] * 2 + ["s3"],
                          "code": [f"c{i}" for i in range(9)] + ["c0", "c1", "c2"]})
    with pytest.warns(PsythemesWarning, match=r"3 coded segments 4\.0 codes each on average \(up to 9\)"):
        _warn_many_codes_each(codes)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        _warn_many_codes_each(codes[codes["segment_id"] != "s1"])  # 1.5 each: nothing to say


def test_few_shot_reads_gold_written_with_an_alias():
    from dataclasses import replace

    renamed = replace(TOY, codes=tuple(replace(c, aliases=("Old trust",)) if c.name == "trust" else c
                                       for c in TOY.codes))
    segs, y = toy_corpus()
    model = FewShotMapper(renamed, embedder=FakeEmbedder()).fit(segs, ["Old trust" if v == "trust" else v for v in y])
    assert set(model.classes_) >= {"body", "trust"} and "Old trust" not in model.classes_


def test_few_shot_cross_validation_in_processes_gives_the_same_model():
    segs, y = toy_corpus(6)
    target = [[v] if v else [] for v in y]
    serial = FewShotMapper(TOY, embedder=FakeEmbedder(), tfidf=False).fit(segs, target)
    parallel = FewShotMapper(TOY, embedder=FakeEmbedder(), tfidf=False, n_jobs=2).fit(segs, target)
    assert serial.C_ == parallel.C_ and serial.thresholds_ == parallel.thresholds_
    assert np.array_equal(serial.coef_, parallel.coef_) and serial.train_docs_ == [f"doc{d}" for d in range(6)]
    with pytest.raises(InputError, match="n_jobs must be a whole number other than 0"):
        FewShotMapper(TOY, embedder=FakeEmbedder(), n_jobs=0).fit(segs, target)
