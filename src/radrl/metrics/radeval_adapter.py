"""RadEval's metrics from ``radrl eval --metrics radeval:NAME,NAME``: BERTScore, RadGraph F1,
RadCliQ, GREEN, ... (RadEval 2.2.1, the optional extra ``radrl[radeval]``), written into
METRICS.json under ``radeval``. radrl does not reimplement them: RadEval's authors keep them.

* RadEval's own requirements were checked against radrl's pins: transformers >= 5.0 (radrl
  pins 5.23), torch >= 2.3; it also needs torchvision (a CUDA-matched build on GPU machines).
* Most metrics load model weights from the Hugging Face hub on first use. Offline, with the
  weights not in the local cache, the error names the metric and what is missing.
* ``crimson``, ``radfact_ct`` and ``mammo_green`` send the reports to an OpenAI / Gemini API. Reports
  can hold patient information, so they run only with ``--allow-remote-metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence

from radrl.io import ConfigError, InputError

RADEVAL_VERSION = "2.2.1"
RADEVAL_REQUIRES = {"transformers": ">=5.0", "torch": ">=2.3"}  # from radeval 2.2.1's metadata
LOCAL = ("bleu", "rouge", "bertscore", "radeval_bertscore", "f1chexbert", "f1radbert_ct", "radgraph", "ratescore",
         "radgraph_radcliq", "radcliq", "srrbert", "temporal", "green")
REMOTE = ("crimson", "radfact_ct", "mammo_green")


def parse_metrics(spec: str) -> list[str]:
    """``radeval:bertscore,radgraph`` -> ``["bertscore", "radgraph"]``, names checked."""
    prefix, sep, names = spec.partition(":")
    if prefix != "radeval" or not sep or not names.strip():
        raise ConfigError(f"--metrics takes radeval:NAME[,NAME...]; got {spec!r}")
    out = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in out if n not in LOCAL + REMOTE]
    if unknown:
        from radrl.registry import did_you_mean

        raise ConfigError(f"RadEval has no metric {unknown[0]!r}{did_you_mean(unknown[0], LOCAL + REMOTE)}; "
                          f"valid: {', '.join(LOCAL + REMOTE)}")
    return out


def radeval_scores(names: Sequence[str], predictions: Sequence[str], references: Sequence[str],
                   allow_remote: bool = False) -> dict[str, float]:
    """RadEval's aggregate scores of ``names`` (its own keys, e.g. ``radgraph_partial``)."""
    remote = [n for n in names if n in REMOTE]
    if remote and not allow_remote:
        raise ConfigError(f"radeval:{remote[0]} sends the reports to an OpenAI/Gemini API; reports can hold "
                          "patient information, so radrl runs it only with --allow-remote-metrics")
    try:
        from radeval import RadEval
    except ImportError as err:
        raise ConfigError(f"--metrics radeval:... needs RadEval: pip install 'radrl[radeval]' (radeval "
                          f"{RADEVAL_VERSION}; it also needs torchvision) ({err})") from None
    scores: dict[str, float] = {}
    for name in names:  # one at a time, so an error names its metric
        try:
            evaluator = RadEval(metrics=[name], show_progress=False)
            result = evaluator(refs=list(references), hyps=list(predictions))
        except (OSError, ValueError, RuntimeError) as err:
            text = str(err).splitlines()[0] if str(err) else type(err).__name__
            offline = any(k in text.lower() for k in ("offline", "connect", "not found", "cannot find", "local",
                                                      "hub", "resolve"))
            hint = ("its model weights are not in the local Hugging Face cache and nothing is downloaded here; "
                    "fetch them once where there is network (they load from HF_HOME)" if offline else "RadEval failed")
            raise InputError(f"radeval:{name}: {hint} ({type(err).__name__}: {text})") from None
        scores.update({k: float(v) for k, v in result.items() if isinstance(v, (int, float))})
    return scores
