"""ROUGE-L with memory linear in the report length.

pycocoevalcap's ``Rouge`` fills the whole (n + 1) x (m + 1) LCS table: a 200 kB prediction
against a 200 kB reference needs gigabytes. :func:`lcs_length` keeps two rows of it, so memory
is O(min(n, m)) and the numbers are the same (``tests/test_nlg_metrics.py`` checks them against
pycocoevalcap's on real reports).

    LCS[i][j] = LCS[i-1][j-1] + 1                  if a[i] == b[j]
              = max(LCS[i-1][j], LCS[i][j-1])      otherwise

    ROUGE-L = (1 + beta^2) P R / (R + beta^2 P),   P = LCS / |candidate|, R = LCS / |reference|, beta = 1.2
"""

from __future__ import annotations

from collections.abc import Sequence

from pycocoevalcap.rouge.rouge import Rouge


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists, two DP rows at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, 1):
            current[j] = previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1])
        previous = current
    return previous[-1]


class BoundedRouge(Rouge):
    """pycocoevalcap's ROUGE-L (same formula, same tokenisation) with :func:`lcs_length`."""

    def calc_score(self, candidate: list[str], refs: list[str]) -> float:
        assert len(candidate) == 1 and len(refs) > 0
        token_c = candidate[0].split(" ")
        prec, rec = [], []
        for reference in refs:
            token_r = reference.split(" ")
            lcs = lcs_length(token_r, token_c)
            prec.append(lcs / float(len(token_c)))
            rec.append(lcs / float(len(token_r)))
        p, r = max(prec), max(rec)
        if p == 0 or r == 0:
            return 0.0
        return ((1 + self.beta**2) * p * r) / float(r + self.beta**2 * p)
