"""ThemeDiscoverer on synthetic segments whose embeddings form known clusters."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from psythemes.discover import (
    OUTLIER_THEME,
    TRANSCRIPT_FILLERS,
    ThemeDiscoverer,
    discover_themes,
    make_vectorizer,
    theme_label,
)
from psythemes.errors import InputError, NotFittedError, PsythemesWarning
from psythemes.io import read_segments
from psythemes.schema import SEGMENT_COLUMNS, SEGMENT_THEME_COLUMNS, THEME_COLUMNS
from psythemes.tables import read_theme_quotes, theme_quotes, write_themes

CLUSTERS = {
    "body": ["breathing", "shoulders", "tension", "relaxation", "posture"],
    "medical": ["headache", "doctor", "medication", "scan", "referral"],
    "study": ["thesis", "supervisor", "exams", "deadline", "lecture"],
}
FILLERS = ["um", "yeah", "you know", "I mean", "like", "kind of", "okay"]
DIM = 16


def make_corpus(n_per_cluster: int = 30, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Segments, embeddings (cluster centre + noise) and the true cluster of each row."""
    rng = np.random.default_rng(seed)
    centres = np.eye(DIM)[: len(CLUSTERS)] * 4.0
    rows, vecs, truth = [], [], []
    for c, words in enumerate(CLUSTERS.values()):
        for _ in range(n_per_cluster):
            w1, w2 = rng.choice(words, 2, replace=False)
            f1, f2 = rng.choice(FILLERS, 2)
            rows.append(f"{f1.capitalize()}, the {w1} and the {w2}, {f2}, it was really about {w1}.")
            vecs.append(centres[c] + rng.normal(scale=0.5, size=DIM))
            truth.append(c)
    order = rng.permutation(len(rows))
    seg = []
    for k, idx in enumerate(order):
        doc = f"D{k % 6}"
        start = 100 * k
        text = rows[idx]
        seg.append(
            {
                "doc_id": doc, "segment_id": f"{doc}:{start}-{start + len(text)}",
                "speaker": "P" if k % 2 else "T", "role": "patient" if k % 2 else "therapist",
                "start": start, "end": start + len(text), "text": text, "t_start": np.nan, "t_end": np.nan,
            }
        )
    frame = pd.DataFrame(seg, columns=SEGMENT_COLUMNS)
    return frame, np.array(vecs, dtype=np.float32)[order], np.array(truth)[order]


@pytest.fixture(scope="module")
def corpus():
    return make_corpus()


@pytest.fixture(scope="module")
def fitted_fast(corpus):
    seg, X, _ = corpus
    return ThemeDiscoverer(preset="fast", n_themes=3, random_state=0).fit(
        seg, X, metadata={f"D{i}": 1 + i % 2 for i in range(6)})


def test_fast_preset_recovers_clusters_with_readable_labels(fitted_fast, corpus):
    seg, X, truth = corpus
    d = fitted_fast
    assert list(d.themes_.columns[:4]) == THEME_COLUMNS
    assert len(d.themes_) == 3 and d.themes_["size"].sum() == len(seg)
    assert d.preset_ == "fast" and d.outlier_share_ == 0.0
    # each theme is exactly one true cluster
    labels = d.segment_themes_["theme_id"].to_numpy()
    for t in range(3):
        assert len(set(truth[labels == t])) == 1
    for rec in d.themes_.itertuples():
        words = CLUSTERS[list(CLUSTERS)[truth[labels == rec.theme_id][0]]]
        top = rec.label.split(" · ")
        assert 1 <= len(top) <= 3 and all(any(w in kw for w in words) for kw in top), rec.label
        assert not set(rec.keywords.split("; ")) & set(TRANSCRIPT_FILLERS)
        assert "_" not in rec.label


def test_segment_themes_table(fitted_fast, corpus):
    seg, _, _ = corpus
    st = fitted_fast.segment_themes_
    assert list(st.columns[:3]) == SEGMENT_THEME_COLUMNS
    assert st["segment_id"].tolist() == seg["segment_id"].tolist()
    assert st["probability"].isna().all()  # k-means gives no membership probabilities
    assert st["similarity"].between(-1, 1).all()


def test_centroids_aligned_with_themes(fitted_fast, corpus):
    seg, X, _ = corpus
    d = fitted_fast
    assert d.theme_centroids_.shape == (3, DIM)
    np.testing.assert_allclose(np.linalg.norm(d.theme_centroids_, axis=1), 1.0, rtol=1e-5)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    nearest = np.argmax(unit @ d.theme_centroids_.T, axis=1)
    assert (d.themes_.theme_id.to_numpy()[nearest] == d.segment_themes_.theme_id.to_numpy()).mean() > 0.95


def test_quotes_are_verbatim_and_one_per_transcript(fitted_fast, corpus):
    seg, _, _ = corpus
    by_id = seg.set_index("segment_id")
    quotes_of = theme_quotes(fitted_fast.themes_, fitted_fast.quotes_)
    for rec in fitted_fast.themes_.itertuples():
        quotes = quotes_of[rec.theme_id]
        assert [q["rank"] for q in quotes] == list(range(1, len(quotes) + 1))
        # the spreadsheet cell holds the same quotes
        assert [q["segment_id"] for q in json.loads(rec.top_quotes)] == [q["segment_id"] for q in quotes]
        assert 1 <= len(quotes) <= 5
        assert len({q["doc_id"] for q in quotes}) == len(quotes)
        for q in quotes:
            src = by_id.loc[q["segment_id"]]
            assert q["text"] == src["text"] and (q["start"], q["end"]) == (src["start"], src["end"])
            assert q["doc_id"] == src["doc_id"]
        sims = [q["similarity"] for q in quotes]
        assert sims == sorted(sims, reverse=True)


def test_role_shares_and_prevalence_tables(fitted_fast, corpus):
    seg, _, _ = corpus
    d = fitted_fast
    np.testing.assert_allclose(d.themes_[["share_patient", "share_therapist"]].sum(axis=1), 1.0, atol=1e-3)
    role = d.by_role_
    assert set(role["role"]) == {"patient", "therapist"}
    assert role.groupby("role")["share_of_role"].sum().round(3).eq(1.0).all()
    assert role["n_segments"].sum() == len(seg)
    wave = d.by_wave_
    assert set(wave["wave"]) == {"1", "2"} and wave["n_segments"].sum() == len(seg)


def test_no_wave_table_without_wave(corpus):
    seg, X, _ = corpus
    d = ThemeDiscoverer(preset="fast", n_themes=3).fit(seg, X)
    assert d.by_wave_ is None and d.by_role_ is not None


def test_wave_column_in_segments_is_used(corpus):
    seg, X, _ = corpus
    d = ThemeDiscoverer(preset="fast", n_themes=3, by=["wave"]).fit(seg.assign(wave=2), X)
    assert set(d.by_wave_["wave"]) == {"2"} and d.by_role_ is None


def test_same_seed_gives_byte_identical_tables(corpus, tmp_path):
    seg, X, _ = corpus
    for run in ("a", "b"):
        write_themes(tmp_path / run, ThemeDiscoverer(preset="fast", random_state=3).fit(seg, X), figures=False)
    for name in ("themes.csv", "theme_quotes.csv", "segment_themes.csv", "themes_by_role.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_default_preset_umap_hdbscan():
    # the one UMAP + HDBSCAN run of the suite (numba compiles on first use)
    seg, X, truth = make_corpus(n_per_cluster=25, seed=1)
    d = ThemeDiscoverer(preset="default", min_topic_size=8).fit(seg, X)
    assert d.preset_ == "default"
    assert len(d.themes_) == 3
    labels = d.segment_themes_["theme_id"].to_numpy()
    for t in d.themes_.theme_id:
        assert len(set(truth[labels == t])) == 1
    prob = d.segment_themes_["probability"]
    assert prob.notna().all() and prob.between(0, 1).all()  # HDBSCAN membership strengths
    assert 0.0 <= d.outlier_share_ <= 0.2


def test_umap_intertopic_map_is_drawn_without_umap_seed_warnings():
    # BERTopic's map seeds its own UMAP; umap-learn's "n_jobs overridden" warning is not the user's concern
    from psythemes.themes.figures import MIN_THEMES_FOR_UMAP_MAP, intertopic_html

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, DIM))
    X = np.repeat(centres, 40, axis=0) + 0.1 * rng.normal(size=(240, DIM))
    words = [["sleep", "night"], ["pain", "back"], ["work", "boss"], ["family", "kids"], ["doctor", "scan"],
             ["walk", "gym"]]
    texts = [" ".join(rng.choice(words[i // 40], 6)) for i in range(240)]
    seg = pd.DataFrame({"doc_id": [f"D{i % 8}" for i in range(240)], "segment_id": [f"s{i}" for i in range(240)],
                        "start": 0, "end": 10, "text": texts})
    d = ThemeDiscoverer(preset="default", random_state=0).fit(seg, X.astype(np.float32))
    assert len(d.themes_) >= MIN_THEMES_FOR_UMAP_MAP
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        html = intertopic_html(d)
    assert "Plotly.newPlot" in html and "principal components" not in html


def test_reduce_outliers_reassigns_by_embedding_similarity():
    from hdbscan import HDBSCAN
    from sklearn.decomposition import PCA

    seg, X, _ = make_corpus(n_per_cluster=25, seed=1)
    X = np.vstack([X[:-8], np.random.default_rng(5).normal(scale=3.0, size=(8, DIM)).astype(np.float32)])
    parts = lambda: dict(umap_model=PCA(5, random_state=0), hdbscan_model=HDBSCAN(min_cluster_size=10))  # noqa: E731
    plain = ThemeDiscoverer(**parts()).fit(seg, X)
    reduced = ThemeDiscoverer(**parts(), reduce_outliers=True).fit(seg, X)
    assert plain.outlier_share_ > 0 and plain.outlier_share_ == reduced.initial_outlier_share_
    # outliers with a positive cosine to some theme move there; the rest stay (BERTopic's threshold 0)
    assert reduced.outlier_share_ < reduced.initial_outlier_share_
    before = plain.segment_themes_["theme_id"].to_numpy()
    after = reduced.segment_themes_["theme_id"].to_numpy()
    moved = (before == OUTLIER_THEME) & (after != OUTLIER_THEME)
    np.testing.assert_array_equal(after[~moved], before[~moved])
    assert reduced.segment_themes_["probability"][moved].isna().all()
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    nearest = reduced.themes_.theme_id.to_numpy()[np.argmax(unit[moved] @ plain.theme_centroids_.T, axis=1)]
    np.testing.assert_array_equal(after[moved], nearest)
    assert reduced.themes_["size"].sum() == moved.sum() + plain.themes_["size"].sum()
    assert reduced.topic_model_.topic_embeddings_.shape[0] == len(set(after))


def test_small_corpus_falls_back_to_fast_with_warning():
    seg, X, _ = make_corpus(n_per_cluster=8)
    with pytest.warns(PsythemesWarning, match="too few"):
        d = ThemeDiscoverer(preset="default").fit(seg, X)
    assert d.preset_ == "fast" and len(d.themes_) >= 2


@pytest.mark.parametrize("n", [0, 1])
def test_zero_or_one_segment_is_input_error(corpus, n):
    seg, X, _ = corpus
    with pytest.raises(InputError, match="at least 2 segments"):
        ThemeDiscoverer(preset="fast").fit(seg.head(n), X[:n])


def test_bad_inputs_are_input_errors(corpus):
    seg, X, _ = corpus
    with pytest.raises(InputError, match="one row per segment"):
        ThemeDiscoverer().fit(seg, X[:-1])
    with pytest.raises(InputError, match="unknown preset"):
        ThemeDiscoverer(preset="slow").fit(seg, X)
    with pytest.raises(InputError, match="lacks column"):
        ThemeDiscoverer(preset="fast").fit(seg.drop(columns="text"), X)
    with pytest.raises(InputError, match="cannot tabulate"):
        ThemeDiscoverer(preset="fast", by=["nonexistent"]).fit(seg, X)


def test_custom_parts_are_used(corpus):
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.decomposition import TruncatedSVD

    seg, X, _ = corpus
    reducer, clusterer = TruncatedSVD(n_components=4, random_state=0), AgglomerativeClustering(n_clusters=3)
    d = ThemeDiscoverer(umap_model=reducer, hdbscan_model=clusterer).fit(seg, X)
    assert d.preset_ == "custom" and len(d.themes_) == 3
    assert isinstance(d.topic_model_.hdbscan_model, AgglomerativeClustering)
    assert not hasattr(clusterer, "labels_") and not hasattr(reducer, "components_")  # fitted clones only


class SeedEmbedder:
    """Embeds seed words onto the cluster centre their words belong to (stands in for Embedder)."""

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for c, words in enumerate(CLUSTERS.values()):
                if any(w in text for w in words):
                    out[i, c] = 1.0
            if not out[i].any():
                out[i, -1] = 1.0
        return out


def test_guided_mode_uses_seed_words(corpus):
    seg, X, _ = corpus
    before = X.copy()
    emb = SeedEmbedder()
    d = ThemeDiscoverer(
        preset="fast", n_themes=3, seed_words={"awareness": ["breathing", "tension"], "study": ["thesis"]}, embedder=emb
    ).fit(seg, X)
    assert "breathing tension" in emb.seen and "thesis" in emb.seen
    assert d.topic_model_.seed_topic_list == [["breathing", "tension"], ["thesis"]]
    np.testing.assert_array_equal(X, before)  # guided mode shifts a copy, never the caller's array
    assert len(d.themes_) == 3


def test_guided_mode_checks_embedding_dimension(corpus):
    seg, X, _ = corpus
    with pytest.raises(InputError, match="dimensions"):
        ThemeDiscoverer(preset="fast", seed_words={"a": ["breathing"]}, embedder=SeedEmbedder()).fit(seg, X[:, :8])


def test_write_outputs_and_offline_figures(corpus, tmp_path):
    seg, X, _ = corpus
    d = discover_themes(seg, embeddings=X, out_dir=tmp_path, include_segments=True, preset="fast", n_themes=3)
    for name in ("themes.csv", "theme_quotes.csv", "segment_themes.csv", "themes_by_role.csv", "segments.csv",
                 "themes_run.json"):
        assert (tmp_path / name).is_file(), name
    themes = pd.read_csv(tmp_path / "themes.csv")
    assert themes["label"].tolist() == d.themes_["label"].tolist()
    # the quotes table reads back as it was in memory
    pd.testing.assert_frame_equal(read_theme_quotes(tmp_path / "theme_quotes.csv"), d.quotes_, check_dtype=False)
    assert read_segments(tmp_path / "segments.csv")["text"].tolist() == seg["text"].tolist()
    run = json.loads((tmp_path / "themes_run.json").read_text())
    assert run["n_themes"] == 3 and run["outlier_share"] == 0.0
    for fig in ("barchart", "intertopic"):
        html = (tmp_path / "figures" / f"{fig}.html").read_text()
        assert "Plotly.newPlot" in html and 'src="https://cdn.plot.ly' not in html  # plotly.js inlined
    # three themes are too few for BERTopic's UMAP map: the PCA map stands in
    assert "principal components" in (tmp_path / "figures" / "intertopic.html").read_text()


def test_vectorizer_drops_fillers_keeps_content_bigrams():
    vec = make_vectorizer().fit(["Um, yeah, you know, I dont think the breathing exercises really helped, mmhmm"])
    vocab = set(vec.get_feature_names_out())
    assert "breathing exercises" in vocab
    assert not vocab & {"um", "yeah", "know", "dont", "think", "really", "mmhmm"}


def test_label_falls_back_to_most_common_text():
    assert theme_label([], np.array(["Mm-hmm.", "Yeah.", "Mm-hmm."])) == "\u201cMm-hmm.\u201d"
    assert (theme_label(["breathing", "breathing exercises", "jaw", "neck", "feet"], np.array([]))
            == "breathing · jaw · neck")
    assert theme_label(["thank thank", "good luck", "luck", "helpful"], np.array([])) == "good luck · helpful"


def test_no_warnings_from_a_plain_fast_fit(corpus):
    seg, X, _ = corpus
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        ThemeDiscoverer(preset="fast", n_themes=3).fit(seg, X)


def test_all_outliers_warns_and_still_writes(corpus, tmp_path):
    from hdbscan import HDBSCAN
    from sklearn.decomposition import PCA

    seg, X, _ = corpus
    with pytest.warns(PsythemesWarning, match="no themes found"):
        d = ThemeDiscoverer(umap_model=PCA(5, random_state=0), hdbscan_model=HDBSCAN(min_cluster_size=500)).fit(seg, X)
    assert d.outlier_share_ == 1.0 and d.themes_.empty and d.theme_centroids_.shape == (0, DIM)
    assert d.quotes_.empty
    write_themes(tmp_path, d)
    assert "No themes were found" in (tmp_path / "figures" / "barchart.html").read_text()
    assert (d.segment_themes_["theme_id"] == OUTLIER_THEME).all()


def test_without_role_column_no_role_table(corpus):
    seg, X, _ = corpus
    d = ThemeDiscoverer(preset="fast", n_themes=3).fit(seg.drop(columns="role"), X)
    assert d.by_role_ is None and "share_unknown" in d.themes_.columns


# -- the cache of fitted results (memory=...) ---------------------------------------------------


def _written(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_memory_serves_the_same_results_without_refitting(corpus, tmp_path):
    seg, X, _ = corpus
    meta = {f"D{i}": 1 + i % 2 for i in range(6)}
    first = ThemeDiscoverer(preset="fast", n_themes=3, memory=tmp_path / "cache").fit(seg, X, metadata=meta)
    write_themes(tmp_path / "a", first)
    second = ThemeDiscoverer(preset="fast", n_themes=3, memory=tmp_path / "cache").fit(seg, X, metadata=meta)
    assert (first.from_cache_, second.from_cache_) == (False, True)
    assert second._topic_model is None  # nothing was fitted
    write_themes(tmp_path / "b", second)
    assert second._topic_model is None  # figures came from the cache too
    for name in ("themes_", "quotes_", "segment_themes_", "by_role_", "by_wave_"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    np.testing.assert_array_equal(first.theme_centroids_, second.theme_centroids_)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    assert first.summary() == second.summary()
    assert _written(tmp_path / "a") == _written(tmp_path / "b")  # every file byte for byte, figures included
    # the BERTopic model is not cached, and reading the attribute fits nothing: it says so
    assert first.topic_model_ is not None
    with pytest.raises(NotFittedError, match="theme cache"):
        _ = second.topic_model_
    assert second._topic_model is None


def test_memory_key_covers_inputs_and_parameters(corpus, tmp_path):
    seg, X, _ = corpus
    cache = tmp_path / "cache"
    ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X)
    changed_text = seg.assign(text=seg["text"].str.replace("breathing", "breath"))
    X2 = X.copy()
    X2[0, 0] += 1e-3
    for fit in (
        lambda: ThemeDiscoverer(preset="fast", n_themes=4, memory=cache).fit(seg, X),  # parameter
        lambda: ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(changed_text, X),  # a text
        lambda: ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X2),  # an embedding
        lambda: ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X, metadata={"D0": 2}),  # metadata
    ):
        assert fit().from_cache_ is False
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 5
    assert ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X2).from_cache_ is True


def test_damaged_cache_entry_is_refitted_with_a_warning(corpus, tmp_path):
    seg, X, _ = corpus
    cache = tmp_path / "cache"
    ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X)
    (entry,) = list(cache.iterdir())
    (entry / "themes.parquet").write_bytes(b"not parquet")
    with pytest.warns(PsythemesWarning, match="damaged theme cache entry"):
        d = ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X)
    assert d.from_cache_ is False and len(d.themes_) == 3
    assert ThemeDiscoverer(preset="fast", n_themes=3, memory=cache).fit(seg, X).from_cache_ is True  # stored again


def test_no_memory_for_custom_parts_or_unfingerprinted_seed_embedders(corpus, tmp_path):
    from sklearn.cluster import AgglomerativeClustering

    seg, X, _ = corpus
    cache = tmp_path / "cache"
    ThemeDiscoverer(hdbscan_model=AgglomerativeClustering(n_clusters=3), memory=cache).fit(seg, X)
    ThemeDiscoverer(preset="fast", n_themes=3, seed_words={"study": ["thesis"]}, embedder=SeedEmbedder(),
                    memory=cache).fit(seg, X)
    assert not cache.exists()


def test_a_theme_that_swallows_the_corpus_is_warned_about():
    from hdbscan import HDBSCAN
    from sklearn.decomposition import PCA

    seg, X, truth = make_corpus(n_per_cluster=30)
    # two of the three groups are made one: HDBSCAN finds a theme with two thirds of the segments
    X = X.copy()
    X[truth == 1] = X[truth == 0] + 0.01
    parts = {"umap_model": PCA(n_components=5, random_state=0), "hdbscan_model": HDBSCAN(min_cluster_size=5)}
    with pytest.warns(PsythemesWarning, match="one theme holds"):
        ThemeDiscoverer(random_state=0, **parts).fit(seg, X)
    with warnings.catch_warnings():  # k-means: the number of themes is the user's choice, no warning
        warnings.simplefilter("error", PsythemesWarning)
        ThemeDiscoverer(preset="fast", n_themes=2, random_state=0).fit(seg, X)


def test_params_and_not_fitted(corpus):
    from sklearn.base import clone

    d = ThemeDiscoverer(preset="fast", n_themes=3, by=["role"])
    assert d.get_params()["n_themes"] == 3 and d.by == ["role"]  # stored unchanged
    copy = clone(d.set_params(min_topic_size=4))
    assert copy.get_params() == d.get_params() and copy is not d
    for attribute in ("topic_model_", "by_role_", "by_wave_", "themes_", "segment_themes_"):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(d, attribute)
    assert not hasattr(d, "themes_")  # NotFittedError is an AttributeError, as scikit-learn's is
    with pytest.raises(NotFittedError):
        write_themes("unused", d)


def test_metadata_may_be_the_path_of_a_table(corpus, fitted_fast, tmp_path):
    seg, X, _ = corpus
    path = tmp_path / "meta.csv"
    path.write_text("doc_id,wave\n" + "".join(f"D{i},{1 + i % 2}\n" for i in range(6)), encoding="utf-8")
    d = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0).fit(seg, X, metadata=path)
    pd.testing.assert_frame_equal(d.by_wave_, fitted_fast.by_wave_)  # as from the {doc_id: wave} mapping
    with pytest.raises(InputError, match="not int"):
        ThemeDiscoverer(preset="fast", n_themes=3).fit(seg, X, metadata=3)
    with pytest.raises(InputError):
        ThemeDiscoverer(preset="fast", n_themes=3).fit(seg, X, metadata=tmp_path / "missing.csv")


def test_hand_made_theme_tables_give_their_quotes_from_the_cell():
    # no theme_quotes table: tables reads the top_quotes cell (JSON, or ' | '-joined plain quotes)
    themes = pd.DataFrame({"theme_id": [0, 1], "top_quotes": [
        '[{"text": "she listened", "doc_id": "P1", "start": 0, "end": 12}]', "first | second"]})
    quotes = theme_quotes(themes)
    assert quotes[0] == [{"theme_id": 0, "rank": 1, "doc_id": "P1", "segment_id": None, "start": 0, "end": 12,
                          "speaker": None, "role": None, "text": "she listened", "similarity": None}]
    assert [q["text"] for q in quotes[1]] == ["first", "second"] and quotes[1][1]["rank"] == 2
    assert theme_quotes(pd.DataFrame({"label": ["no ids"]})) == {}


def test_role_and_column_names_in_other_scripts_keep_their_own_columns():
    # ASCII-only slugs gave the roles "терапевт" and "пациент" one column, share_unknown
    from psythemes.themes.discoverer import column_slug

    assert [column_slug(v) for v in ("Wave 2", "терапевт", "пациент", "患者", "")] == [
        "wave_2", "терапевт", "пациент", "患者", "unknown"]
