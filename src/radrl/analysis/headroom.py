"""Where can RL gain over the SFT policy? Decision rules on the policy's own beliefs, and what it
discriminates per finding.

RL on an example-F1 reward can raise the greedy report's F1 in two ways only:

1. **Decide better on what the policy already believes.** Greedy decoding calls a finding when its
   sentence is the likeliest; F1 may prefer another cut-off. Sample ``K`` reports per study, label
   them, and take the call rate ``p_ic`` (share of the K reports positive for finding c) as the
   policy's belief. The best any re-decision can do is bounded by the best rule on these beliefs:

   * threshold rule: call c when ``p_ic >= t`` (No Finding when nothing else is called), best t;
   * minimum-Bayes-risk (MBR) choice: the sampled report whose mean example F1 against the other
     K-1 samples is highest (``argmax_k 1/(K-1) sum_{j != k} F1(y_k, y_j)``).

   If both stay at or below greedy, there is no decision headroom: RL must teach the policy
   something it does not discriminate yet.
2. **Discriminate what it does not yet.** ``policy_auroc``: per finding, the AUROC of ``p_ic``
   against the ground truth. Compared with a linear probe on the frozen vision features
   (``radrl.models.vision_pretrain.linear_probe_auroc``), a finding the probe separates and the
   policy does not is information the encoder carries and SFT left unused - what RL could recover,
   if its rollouts ever call that finding (``call_rate_positive``: how often they do on positives).

``best_of_k`` (mean over studies of the best sampled report's F1) is what exploration reaches at
all: an upper bound no reward can push past without new samples.

All functions are pure numpy on 0/1 label matrices (rows: studies, columns: ``OBSERVATIONS``).
"""

from __future__ import annotations

import numpy as np

from radrl.metrics.clinical import example_scores
from radrl.schema import NO_FINDING, OBSERVATIONS, SUPPORT_DEVICES

NO_FINDING_INDEX = OBSERVATIONS.index(NO_FINDING)
SUPPORT_DEVICES_INDEX = OBSERVATIONS.index(SUPPORT_DEVICES)


def call_rates(sampled: np.ndarray) -> np.ndarray:
    """``p_ic``: the share of each study's K sampled reports positive for each label; (N, K, L) -> (N, L)."""
    sampled = np.asarray(sampled, dtype=np.float64)
    if sampled.ndim != 3 or sampled.shape[1] == 0:
        raise ValueError(f"sampled labels must be (studies, K >= 1, labels), got shape {sampled.shape}")
    return sampled.mean(axis=1)


def threshold_decision(rates: np.ndarray, threshold: float, no_finding: int = NO_FINDING_INDEX,
                       not_abnormal: tuple[int, ...] = (SUPPORT_DEVICES_INDEX,)) -> np.ndarray:
    """Call label c when ``p_ic >= threshold``; No Finding exactly when no finding is called. As in
    CheXpert (and radrl's labelers), a support device alone does not rule No Finding out: the
    columns in ``not_abnormal`` are not findings."""
    pred = (np.asarray(rates) >= threshold).astype(np.int64)
    findings = [j for j in range(pred.shape[1]) if j != no_finding and j not in not_abnormal]
    pred[:, no_finding] = (~pred[:, findings].any(axis=1)).astype(np.int64)
    return pred


def mbr_decision(sampled: np.ndarray, empty_match: str = "zero") -> np.ndarray:
    """Per study, the sampled label row with the highest mean example F1 against the other samples
    (ties: the first). (N, K, L) -> (N, L). With K = 1 it is that sample."""
    sampled = np.asarray(sampled, dtype=np.int64)
    n, k, _ = sampled.shape
    if k == 1:
        return sampled[:, 0].copy()
    out = np.empty((n, sampled.shape[2]), dtype=np.int64)
    for i in range(n):
        rows = sampled[i]
        # F1 of every ordered pair (a as prediction, b as reference); example F1 is symmetric
        pred = np.repeat(rows, k, axis=0)
        ref = np.tile(rows, (k, 1))
        f1 = example_scores(pred, ref, empty_match)["f1"].reshape(k, k)
        np.fill_diagonal(f1, 0.0)
        out[i] = rows[int(np.argmax(f1.sum(axis=1)))]
    return out


def best_of_k(sampled: np.ndarray, ref: np.ndarray, empty_match: str = "zero") -> np.ndarray:
    """Per study, the highest example F1 among its K sampled reports; (N, K, L), (N, L) -> (N,)."""
    sampled = np.asarray(sampled)
    scores = np.stack([example_scores(sampled[:, j], ref, empty_match)["f1"] for j in range(sampled.shape[1])], axis=1)
    return scores.max(axis=1)


def policy_auroc(rates: np.ndarray, ref: np.ndarray, labels=OBSERVATIONS) -> dict[str, float | None]:
    """Per label, the AUROC of the call rate against the ground truth (None without both classes).
    Ties count one half (the Mann-Whitney form), so a constant rate gives 0.5."""
    from sklearn.metrics import roc_auc_score

    rates = np.asarray(rates, dtype=np.float64)
    ref = np.asarray(ref, dtype=bool)
    return {name: float(roc_auc_score(ref[:, j], rates[:, j])) if 0 < ref[:, j].sum() < len(ref) else None
            for j, name in enumerate(labels)}


def headroom(greedy: np.ndarray, sampled: np.ndarray, ref: np.ndarray,
             thresholds=(0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6), empty_match: str = "zero") -> dict:
    """Example F1 of greedy, of a sampled report, of the best threshold rule, of MBR and of the
    best-of-K oracle, plus per-label discrimination, from label matrices: ``greedy`` (N, L),
    ``sampled`` (N, K, L), ``ref`` (N, L).

    The best threshold is chosen on the studies given: pass validation studies, and read it as
    an upper bound of decision headroom (it is fit on what it scores)."""
    greedy, sampled, ref = np.asarray(greedy), np.asarray(sampled), np.asarray(ref)
    if greedy.shape != ref.shape or sampled.shape[0] != ref.shape[0] or sampled.shape[2] != ref.shape[1]:
        raise ValueError(f"shapes do not match: greedy {greedy.shape}, sampled {sampled.shape}, reference {ref.shape}")

    def f1(pred):
        return float(example_scores(pred, ref, empty_match)["f1"].mean())

    rates = call_rates(sampled)
    by_threshold = {float(t): f1(threshold_decision(rates, t)) for t in thresholds}
    best_t = max(by_threshold, key=by_threshold.get)
    refb = ref.astype(bool)
    per_label = {}
    aurocs = policy_auroc(rates, ref)
    for j, name in enumerate(OBSERVATIONS):
        pos = refb[:, j]
        per_label[name] = {
            "positives": int(pos.sum()),
            "greedy_recall": float(greedy[pos, j].mean()) if pos.any() else None,
            "call_rate_positive": float(rates[pos, j].mean()) if pos.any() else None,
            "call_rate_negative": float(rates[~pos, j].mean()) if (~pos).any() else None,
            "policy_auroc": aurocs[name],
        }
    return {
        "n": int(ref.shape[0]), "k": int(sampled.shape[1]),
        "greedy_f1": f1(greedy),
        "sampled_f1": float(np.mean([f1(sampled[:, j]) for j in range(sampled.shape[1])])),
        "threshold_f1": by_threshold, "best_threshold": best_t, "best_threshold_f1": by_threshold[best_t],
        "mbr_f1": f1(mbr_decision(sampled, empty_match)),
        "best_of_k_f1": float(best_of_k(sampled, ref, empty_match).mean()),
        "per_label": per_label,
    }
