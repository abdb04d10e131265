"""The vectors clustering works on: the stored embeddings joined with a lexical view of the same texts.

Static word embeddings such as WordLlama blur words that matter for intent ("card" vs "cash"); a TF-IDF
view reduced by truncated SVD (LSA) restores them. Each view is unit-normalised before they are joined,
so `lsa_weight` says how much the lexical view counts; 0 clusters on the embeddings alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def lsa_view(texts: Sequence[str], *, components: int = 256, random_state: int = 42) -> np.ndarray | None:
    """Unit rows of LSA over word uni- and bigrams; None when the texts are too few or too uniform."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 3:
        return None
    try:
        tfidf = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1).fit_transform(texts)
    except ValueError:  # empty vocabulary
        return None
    n_components = min(components, tfidf.shape[0] - 1, tfidf.shape[1] - 1)
    if n_components < 2:
        return None
    reduced = TruncatedSVD(n_components=n_components, random_state=random_state).fit_transform(tfidf)
    return _unit_rows(reduced.astype(np.float32))


def clustering_features(
    embeddings: np.ndarray,
    texts: Sequence[str],
    *,
    lsa_weight: float = 0.5,
    lsa_components: int = 256,
    random_state: int = 42,
) -> np.ndarray:
    """Unit-length rows: embeddings, optionally joined with the weighted LSA view."""
    base = _unit_rows(np.asarray(embeddings, dtype=np.float32))
    if lsa_weight <= 0 or len(texts) == 0:
        return base
    lexical = lsa_view(texts, components=lsa_components, random_state=random_state)
    if lexical is None:
        return base
    return _unit_rows(np.hstack([base, lsa_weight * lexical]))
