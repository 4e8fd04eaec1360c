"""How well a learned coupling W matches a ground-truth W* (synthetic tasks).

Scores are the off-diagonal |W_ij|, averaged over the chosen stages; labels are
W*_ij != 0. Reported: edge-detection ROC-AUC, precision/recall of the top-k
scores (k = number of true edges by default; scores tied at the cut count as the
expected hits under random tie-breaking) and Spearman rank correlation between
|W_ij| and |W*_ij| (with a 0/1 W* ties cap it well below 1; 0 for a constant W).
"""
from __future__ import annotations

import numpy as np
import torch


def _as_array(W) -> np.ndarray:
    return W.detach().cpu().numpy() if isinstance(W, torch.Tensor) else np.asarray(W, dtype=float)


def edge_scores(matrices, stages: list[int] | None = None) -> np.ndarray:
    """Mean |W| over the chosen stages (all by default): (n, n)."""
    mats = [_as_array(W) for W in matrices]
    if stages is not None:
        mats = [mats[s] for s in stages]
    return np.mean([np.abs(W) for W in mats], axis=0)


def _offdiag(A: np.ndarray) -> np.ndarray:
    return A[~np.eye(A.shape[0], dtype=bool)]


def _top_k_hits(scores: np.ndarray, edges: np.ndarray, k: int) -> float:
    """True edges among the k highest scores; scores tied at the cut share the remaining
    places (the expected count under random tie-breaking), so a constant W is not
    credited with whatever edges happen to come first."""
    if k <= 0:
        return 0.0
    cut = np.sort(scores)[::-1][min(k, len(scores)) - 1]
    above, tied = scores > cut, scores == cut
    left = min(k, len(scores)) - int(above.sum())
    return float(edges[above].sum()) + left * float(edges[tied].sum()) / int(tied.sum())


def recovery_report(matrices, W_true, stages: list[int] | None = None, k: int | None = None) -> dict[str, float]:
    """AUC, top-k precision and recall, and Spearman correlation of learned vs true coupling."""
    scores = edge_scores(matrices, stages)
    truth = _as_array(W_true)
    if scores.shape != truth.shape:
        raise ValueError(f"learned W has shape {scores.shape} but W_true has {truth.shape}")
    s, t = _offdiag(scores), _offdiag(np.abs(truth))
    edges = t != 0
    if edges.all() or not edges.any():
        raise ValueError("W_true needs both edges and non-edges off the diagonal to score recovery")
    k = int(edges.sum()) if k is None else k
    hits = _top_k_hits(s, edges, k)
    from scipy.stats import spearmanr            # scipy.stats + sklearn.metrics take ~1 s to import:
    from sklearn.metrics import roc_auc_score    # only when a recovery is scored
    rho = spearmanr(s, t).statistic if np.ptp(s) > 0 and np.ptp(t) > 0 else 0.0
    return {"auc": float(roc_auc_score(edges, s)), "precision_at_k": hits / k, "recall_at_k": hits / int(edges.sum()),
            "spearman": float(rho) if np.isfinite(rho) else 0.0, "k": k}
