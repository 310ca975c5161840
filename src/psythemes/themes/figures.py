"""The theme figures, as self-contained HTML strings (plotly.js inlined; nothing is written here).

:func:`theme_figures` gives both figures of a fitted :class:`~psythemes.themes.ThemeDiscoverer`
by file name; the writer (:func:`psythemes.tables.write_theme_figures`) puts them on disk.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import PsythemesWarning
from ..schema import THEME_COLUMNS

if TYPE_CHECKING:
    from .discoverer import ThemeDiscoverer

__all__ = ["FIGURES", "theme_figures", "barchart_html", "intertopic_html", "note_html", "pca_map"]

_THEME_ID, _LABEL, _KEYWORDS, _SIZE = THEME_COLUMNS
#: file names of the figures, in ``figures/``
FIGURES = ("barchart.html", "intertopic.html")
#: BERTopic's intertopic map (UMAP over the themes) needs at least this many themes
MIN_THEMES_FOR_UMAP_MAP = 5
NO_THEMES = "No themes were found: every segment is an outlier. Try a smaller --min-topic-size."


def theme_figures(discoverer: ThemeDiscoverer) -> dict[str, str]:
    """Both figures of a fitted discoverer: ``{"barchart.html": html, "intertopic.html": html}``.

    A fit read from the theme cache (``memory``) brings its figures along (``figures_``); other
    fits draw them from the BERTopic model.  Without themes each file is a one-line note.
    """
    if len(discoverer.themes_) == 0:
        return dict.fromkeys(FIGURES, note_html(NO_THEMES))
    stored = getattr(discoverer, "figures_", None)
    if stored is not None:
        return dict(stored)
    return {"barchart.html": barchart_html(discoverer), "intertopic.html": intertopic_html(discoverer)}


def barchart_html(discoverer: ThemeDiscoverer) -> str:
    """BERTopic's keyword bar chart (at most 16 themes, 5 words each), with our labels."""
    n_themes = len(discoverer.themes_)
    title = f"{n_themes} candidate themes"
    bar = discoverer.topic_model_.visualize_barchart(
        top_n_topics=min(n_themes, 16), n_words=5, custom_labels=True, title=f"<b>{title}: top keywords</b>")
    return _figure_html(bar, "barchart")


def intertopic_html(discoverer: ThemeDiscoverer) -> str:
    """BERTopic's intertopic distance map, or the centroids on two principal components.

    BERTopic's map runs UMAP(n_neighbors=2) over the themes.  That fails for a handful of
    themes (BERTopic issues #1512, #1900), and in a fresh process numba compiles UMAP first
    (docs/performance.md, *Themes*), which would undo the 'fast' preset: in those cases the centroids are drawn
    on their first two principal components instead (:func:`pca_map`).
    """
    if len(discoverer.themes_) >= MIN_THEMES_FOR_UMAP_MAP and discoverer.preset_ != "fast":
        try:
            with warnings.catch_warnings():
                # BERTopic seeds this UMAP itself; umap-learn then warns that a seed means one thread
                warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
                figure = discoverer.topic_model_.visualize_topics(custom_labels=True)
            return _figure_html(figure, "intertopic")
        except (ValueError, TypeError, IndexError) as err:
            warnings.warn(f"BERTopic's intertopic map failed ({err}); drawing a PCA map", PsythemesWarning,
                          stacklevel=3)
    return _figure_html(pca_map(discoverer.themes_, discoverer.theme_centroids_), "intertopic")


def note_html(note: str) -> str:
    """A page holding one sentence (a figure that cannot be drawn)."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>psythemes</title></head>"
            f"<body><p>{note}</p></body></html>\n")


def _figure_html(fig: Any, div_id: str) -> str:
    # plotly.js inlined: the file opens offline; a fixed div id keeps reruns byte-stable
    return fig.to_html(full_html=True, include_plotlyjs=True, div_id=div_id)

def pca_map(themes: pd.DataFrame, centroids: np.ndarray) -> Any:
    """Plotly figure: theme centroids on their first two principal components, bubble size = theme size."""
    import plotly.graph_objects as go

    n = len(themes)
    xy = np.zeros((n, 2))
    if n >= 2:
        centred = centroids - centroids.mean(axis=0)
        # SVD is deterministic up to sign; fix the sign so reruns draw the same map
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        signs = np.sign(u[np.argmax(np.abs(u), axis=0), range(u.shape[1])])
        coords = (u * s) * np.where(signs == 0, 1, signs)
        xy[:, : min(2, coords.shape[1])] = coords[:, :2]
    sizes = themes[_SIZE].to_numpy(dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="markers+text",
            text=[f"{t}: {lab}" for t, lab in zip(themes[_THEME_ID], themes[_LABEL], strict=True)],
            textposition="top center",
            marker={"size": 20 + 60 * np.sqrt(sizes / sizes.max()), "opacity": 0.6},
            hovertext=[f"{lab} ({int(s)} segments)" for lab, s in zip(themes[_LABEL], sizes, strict=True)],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title=f"<b>Intertopic map</b> (theme centroids, first two principal components; {n} themes)",
        xaxis={"title": "PC1", "zeroline": False}, yaxis={"title": "PC2", "zeroline": False},
        width=700, height=650, template="simple_white",
    )
    return fig

