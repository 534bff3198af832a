"""Vectorised row blocks and the exact removal of implied rows.

A block holds rows `A @ x >= b` over a list of model variables (`x`), built with numpy. Rows of
scenario constraints are often implied by other rows: with x >= 0 on the columns where two rows
differ, row i is implied by row j when A_j <= A_i element by element and b_j >= b_i. Removing
implied rows leaves the feasible set exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHUNK = 256


@dataclass
class RowBlock:
    """Rows A x >= b; `labels` names each row, e.g. (scenario, year, party)."""

    cols: list = field(default_factory=list)  # Pyomo variables, one per column
    A: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    b: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return self.A.shape[0]


def prune_implied(A: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Indices of the rows of A x >= b that are not implied by another row (x >= 0)."""
    n = A.shape[0]
    if n <= 1:
        return np.arange(n)
    order = np.lexsort((A.sum(axis=1), -b))  # b descending, then smaller rows first
    As = A[order]
    keep: list[int] = []
    kept_A = np.zeros((0, A.shape[1]))
    for start in range(0, n, CHUNK):
        idx = np.arange(start, min(start + CHUNK, n))
        C = As[idx]
        dom = np.zeros(len(idx), dtype=bool)
        if len(kept_A):
            dom |= (kept_A[None, :, :] <= C[:, None, :] + tol).all(axis=2).any(axis=1)
        inner = (C[None, :, :] <= C[:, None, :] + tol).all(axis=2)  # [i, j]: row j <= row i
        inner &= np.tri(len(idx), k=-1, dtype=bool)  # only earlier rows (b_j >= b_i)
        # an earlier row that is itself dominated still implies i (implication is transitive)
        dom |= inner.any(axis=1)
        new = idx[~dom]
        keep.extend(new.tolist())
        kept_A = np.concatenate([kept_A, As[new]], axis=0)
    return np.sort(order[np.asarray(keep, dtype=int)])
