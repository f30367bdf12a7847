"""What a run folder shows people: per-label F1 bars, the training loss curve, an HTML page
with images, references and generated reports side by side."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from radrl.data.sample import Sample
from radrl.schema import OBSERVATIONS


def format_metrics(metrics: dict) -> str:
    """A short human-readable table of an evaluation result (``radrl eval``, the demo, training)."""
    def f(v):
        return "  n/a " if v is None else f"{v:6.4f}"

    nlg, cl = metrics["nlg"], metrics["clinical"]
    lines = [f"n = {metrics['n']}, labeler = {metrics['labeler']}",
             "NLG       " + "  ".join(f"{k.upper().replace('_', '-')}={f(v)}" for k, v in nlg.items()),
             f"{'clinical':10s}{'P':>8s}{'R':>8s}{'F1':>8s}"]
    for block in ("example", "macro", "micro", "micro_5"):
        b = cl[block]
        lines.append(f"{block:10s}{b['precision']:8.4f}{b['recall']:8.4f}{b['f1']:8.4f}")
    conventions = cl.get("conventions")
    if conventions:  # F1 in each convention of the literature (docs/cli.md maps papers to them)
        keys = list(conventions["uncertain_negative"])
        lines.append(f"{'F1':22s}" + "".join(f"{k:>10s}" for k in keys))
        for setting, block in conventions.items():
            lines.append(f"{setting:22s}" + "".join(f"{block[k]['f1']:10.4f}" for k in keys))
    if metrics.get("nlg_radeval"):
        lines.append("RadEval's NLG " + "  ".join(f"{k}={f(v)}" for k, v in metrics["nlg_radeval"].items()))
    if metrics.get("radeval"):
        lines.append("RadEval   " + "  ".join(f"{k}={v:.4f}" for k, v in metrics["radeval"].items()))
    return "\n".join(lines)


def _atomic_save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)


def plot_per_label_f1(systems: dict[str, dict], path: str | Path) -> Path:
    """Grouped bars: per-label F1 of each system (``{name: metrics}``), support in the labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(systems)
    x = np.arange(len(OBSERVATIONS))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(12, 4.5))
    for i, name in enumerate(names):
        per = systems[name]["clinical"]["per_label"]
        ax.bar(x + i * width - 0.4 + width / 2, [per[o]["f1"] for o in OBSERVATIONS], width, label=name)
    support = systems[names[0]]["clinical"]["per_label"]
    ax.set_xticks(x, [f"{o}\n(n={support[o]['support']})" for o in OBSERVATIONS], rotation=45, ha="right",
                  fontsize=8)
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1)
    ax.set_title("Per-label F1 on the test split")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    path = Path(path)
    _atomic_save_figure(fig, path)
    plt.close(fig)
    return path


def plot_loss(log_history: Sequence[dict], path: str | Path, title: str = "SFT training loss") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if pts:
        ax.plot(*zip(*pts), marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    path = Path(path)
    _atomic_save_figure(fig, path)
    plt.close(fig)
    return path


RL_PANELS = (
    ("reward", ("reward",), "rewards/"),
    ("reward diversity (DEER Table 7)", ("diagnostics/zero_std_share", "diagnostics/all_zero_share",
                                         "diagnostics/group_std"), None),
    ("unique rewards per group", ("diagnostics/unique_per_group",), None),
    ("OraPO", ("orapo/lambda_mean", "orapo/zrr_ema_mean"), None),
    ("DiTPO token weights", ("token_weights/mean", "token_weights/max"), None),
    ("loss / KL / entropy", ("loss", "kl", "entropy"), None),
)


def plot_rl_curves(rows: Sequence[dict], path: str | Path) -> Path:
    """One panel per diagnostic family: rewards and each component, reward diversity, OraPO's
    lambda and ZRR, DiTPO token weights, loss/KL/entropy. Panels with no data are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for title, keys, prefix in RL_PANELS:
        names = [k for k in keys if any(k in r for r in rows)]
        if prefix:
            names += sorted({k for r in rows for k in r if k.startswith(prefix) and k.endswith("/mean")})
        if names:
            panels.append((title, names))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 3.4), squeeze=False)
    for ax, (title, names) in zip(axes[0], panels):
        for name in names:
            pts = [(r["step"], r[name]) for r in rows if name in r and "step" in r]
            steps, values = zip(*pts)
            line, = ax.plot(steps, values, alpha=0.3, linewidth=0.8)
            window = max(1, min(10, len(values) // 5))  # a moving average shows the trend in noisy RL curves
            smooth = [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
                      for i in range(len(values))]
            ax.plot(steps, smooth, color=line.get_color(), linewidth=1.6,
                    label=name.replace("diagnostics/", "") + (f" (mean of {window})" if window > 1 else ""))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    path = Path(path)
    _atomic_save_figure(fig, path)
    plt.close(fig)
    return path


def _img_tag(path: str, size: int = 160) -> str:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        im.thumbnail((size, size))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img src="data:image/png;base64,{data}" width="{size}">'


def _positives(labels: dict | None) -> str:
    if not labels:
        return ""
    pos = [k for k in OBSERVATIONS if labels.get(k) == "positive"]
    unc = [k for k in OBSERVATIONS if labels.get(k) == "uncertain"]
    return ", ".join(pos) + (f"; uncertain: {', '.join(unc)}" if unc else "")


def shaded_html(pieces: Sequence[tuple[str, float]], top: float | None = None) -> str:
    """Tokens as spans shaded by weight: white at 1 (boilerplate) to deep red at ``top``."""
    top = top if top is not None else max([w for _, w in pieces] + [1.0 + 1e-9])
    spans = []
    for text, w in pieces:
        alpha = 0.0 if top <= 1.0 else min(max((w - 1.0) / (top - 1.0), 0.0), 1.0)
        spans.append(f'<span title="w={w:.2f}" style="background:rgba(220,30,30,{alpha:.2f})">'
                     f"{html.escape(text)}</span>")
    return "".join(spans)


def write_html(path: str | Path, title: str, samples: Sequence[Sample], outputs: dict[str, Sequence[str]],
               labels: dict[str, Sequence[dict]], summary_rows: Sequence[tuple[str, dict]], n: int = 24,
               figures: Sequence[str] = (), shaded: dict[str, Sequence[Sequence[tuple[str, float]]]] | None = None,
               note: str = "") -> Path:
    """Self-contained page (images embedded): metrics table, figures, then one row per sample.

    ``shaded`` maps a system name to, per sample, its report as (token, DiTPO weight) pairs: that
    system's column then shows the tokens shaded by weight (DEER's case-study figure)."""
    esc = html.escape
    shaded = shaded or {}
    rows = []
    for i, s in enumerate(samples[:n]):
        cells = [f"<td>{_img_tag(s.images[0])}<br><small>{esc(s.id)}</small></td>",
                 f"<td>{esc(s.report)}<br><small class=lab>{esc(_positives(s.labels))}</small></td>"]
        for name, outs in outputs.items():
            text = shaded_html(shaded[name][i]) if name in shaded and i < len(shaded[name]) else esc(outs[i])
            cells.append(f"<td>{text}<br><small class=lab>{esc(_positives(labels[name][i]))}</small></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr><th>image</th><th>reference (ground truth labels)</th>" + "".join(
        f"<th>{esc(n)}</th>" for n in outputs) + "</tr>"
    def cell(value):
        return f"<td>{value:.3f}</td>" if value is not None else "<td>n/a</td>"

    metric_rows = "".join(
        f"<tr><td>{esc(name)}</td>"
        + "".join(cell(m["clinical"]["example"][k]) for k in ("precision", "recall", "f1"))
        + cell(m["clinical"]["macro"]["f1"]) + cell(m["clinical"]["micro_5"]["f1"])
        + cell(m["nlg"]["bleu_4"]) + cell(m["nlg"]["rouge_l"]) + "</tr>"
        for name, m in summary_rows)
    figs = "".join(f'<img src="{esc(f)}" style="max-width:100%">' for f in figures)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;margin:20px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:6px;vertical-align:top;font-size:13px;max-width:420px}}
.lab{{color:#555}}</style></head><body><h1>{esc(title)}</h1>
<table><tr><th>system</th><th>example P</th><th>example R</th><th>example F1</th><th>macro F1</th>
<th>micro-5 F1</th><th>BLEU-4</th><th>ROUGE-L</th></tr>{metric_rows}</table><p>{esc(note)}</p>{figs}
<h2>First {min(n, len(samples))} test studies</h2><table>{head}{''.join(rows)}</table></body></html>"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
