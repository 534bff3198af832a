"""Vectorised row blocks and the exact removal of implied rows.

A block holds rows `A @ x >= b` over a list of model variables (`x`), built with numpy. Rows of
scenario constraints are often implied by other rows: with x >= 0 on the columns where two rows
differ, row i is implied by row j when A_j <= A_i element by element and b_j >= b_i. Removing
implied rows leaves the feasible set exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHUNK = 64


@dataclass
class RowBlock:
    """Rows A x >= b; `labels` names each row, e.g. (scenario, year, party)."""

    cols: list = field(default_factory=list)  # Pyomo variables, one per column
    A: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    b: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: list[tuple] = field(default_factory=list)

    def __len__(self) -> int:
        return self.A.shape[0]


def _below(rows: np.ndarray, others: np.ndarray, tol: float) -> np.ndarray:
    """[i, j]: others[j] <= rows[i] + tol in every column (a column at a time: the rows have a
    few columns and many rows, and numpy reduces a short last axis slowly)."""
    out = np.ones((rows.shape[0], others.shape[0]), dtype=bool)
    for k in range(rows.shape[1]):
        out &= others[None, :, k] <= rows[:, k, None] + tol
    return out


def prune_implied(A: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Indices of the rows of A x >= b that are not implied by another row (x >= 0).

    Rows are taken in order of b descending (then smaller rows first), so a row can only be
    implied by an earlier one. Each pass takes the next CHUNK undecided rows, keeps those no
    earlier row of the chunk implies, and drops every later row a newly kept row implies, all
    at once. A row implied by a dropped row is implied by the row that dropped it (implication
    is transitive), so comparing with kept rows only is exact. Columns that are zero on every
    row compare equal everywhere and are left out."""
    n = A.shape[0]
    if n <= 1:
        return np.arange(n)
    A = A[:, (A != 0).any(axis=0)]
    order = np.argsort(-b, kind="stable")  # b descending
    if (np.diff(b[order]) == 0).any():  # equal b: smaller rows first
        order = np.lexsort((A.sum(axis=1), -b))
    As = A[order]
    rest = np.arange(n)  # positions (in `order`) not yet kept or dropped
    keep: list[int] = []
    while len(rest):
        idx, rest = rest[:CHUNK], rest[CHUNK:]
        C = As[idx]
        inner = _below(C, C, tol)  # [i, j]: row j <= row i
        inner &= np.tri(len(idx), k=-1, dtype=bool)  # only earlier rows (b_j >= b_i)
        new = idx[~inner.any(axis=1)]
        keep.extend(new.tolist())
        if len(rest):
            rest = rest[~_below(As[rest], As[new], tol).any(axis=1)]
    return np.sort(order[np.asarray(keep, dtype=int)])
