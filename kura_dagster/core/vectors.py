"""Rows of vectors to unit length: the one helper every stage (and the hosted embeddings) uses."""

from __future__ import annotations

import numpy as np

NORM_BLOCK_ROWS = 65_536  # rows whose squares are held at once: no n × d temporary at a million rows (a GB)


def row_norms(matrix: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row, as a column, computed a block of rows at a time (each row's norm is
    the same as `np.linalg.norm(matrix, axis=1)` gives, bit for bit)."""
    if len(matrix) <= NORM_BLOCK_ROWS:
        return np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.concatenate(
        [
            np.linalg.norm(matrix[start : start + NORM_BLOCK_ROWS], axis=1, keepdims=True)
            for start in range(0, len(matrix), NORM_BLOCK_ROWS)
        ]
    )


def unit_rows(matrix: np.ndarray, *, keep_unit: bool = False) -> np.ndarray:
    """Each row divided by its norm (a zero row stays zero). With `keep_unit`, a matrix whose rows are unit
    already (WordLlama's and OpenAI's embeddings are) is returned as it is: no normalised copy is made."""
    norms = row_norms(matrix)
    if keep_unit and np.allclose(norms, 1.0, atol=1e-4):
        return matrix
    return matrix / np.where(norms == 0, 1.0, norms)


def nearest_rows(matrix: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each row's `k` most cosine-similar other rows (in no particular order; k < n).
    An n x n similarity: for the few thousand rows of a leaf or a taxonomy's leaves, not for a whole window."""
    unit = unit_rows(matrix)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argpartition(-similarity, k - 1, axis=1)[:, :k]
