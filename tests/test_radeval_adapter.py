"""`radrl eval --metrics radeval:...` with a stand-in of RadEval's interface (the real package needs
torchvision, which this machine's CPU torch cannot have), and the pins checked."""

from __future__ import annotations

import json
import sys
import types

import pytest

from radrl.cli import main


class _StandIn:
    """RadEval's interface: RadEval(metrics=[...], show_progress=...)(refs=..., hyps=...) -> dict."""

    calls: list = []
    missing_weights: set = set()

    def __init__(self, metrics=None, show_progress=True, **kwargs):
        (name,) = metrics
        if name in self.missing_weights:  # what huggingface_hub raises offline for an uncached model
            raise OSError(f"We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
                          f"them in the cached files for {name}")
        self.name = name

    def __call__(self, refs, hyps):
        _StandIn.calls.append((self.name, list(refs), list(hyps)))
        same = sum(r == h for r, h in zip(refs, hyps)) / len(refs)
        return {f"{self.name}_score": same, f"{self.name}_note": "text is skipped"}


@pytest.fixture
def radeval(monkeypatch):
    module = types.ModuleType("radeval")
    module.RadEval = _StandIn
    monkeypatch.setitem(sys.modules, "radeval", module)
    _StandIn.calls, _StandIn.missing_weights = [], set()
    return _StandIn


def _preds(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"id": 1, "prediction": "No effusion.", "reference": "No effusion."},
            {"id": 2, "prediction": "Cardiomegaly.", "reference": "Small left effusion."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scores_land_in_metrics_json(radeval, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["eval", str(_preds(tmp_path)), "-o", str(out), "--no-meteor",
                 "--metrics", "radeval:bertscore,radgraph"]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["radeval"] == {"bertscore_score": 0.5, "radgraph_score": 0.5}
    assert [c[0] for c in radeval.calls] == ["bertscore", "radgraph"]
    assert radeval.calls[0][1] == ["No effusion.", "Small left effusion."]  # refs, hyps as RadEval names them
    assert "RadEval   bertscore_score=0.5000" in capsys.readouterr().out


def test_clear_errors(radeval, tmp_path, capsys):
    preds = _preds(tmp_path)
    radeval.missing_weights = {"radgraph"}
    assert main(["eval", str(preds), "-o", str(tmp_path / "m.json"), "--no-meteor", "--metrics", "radeval:radgraph"]) == 2
    err = capsys.readouterr().err
    assert "radeval:radgraph: its model weights are not in the local Hugging Face cache" in err
    assert main(["eval", str(preds), "-o", str(tmp_path / "m.json"), "--no-meteor", "--metrics", "radeval:radgrap"]) == 2
    assert "did you mean radgraph" in capsys.readouterr().err
    assert main(["eval", str(preds), "-o", str(tmp_path / "m.json"), "--no-meteor", "--metrics", "radeval:crimson"]) == 2
    assert "--allow-remote-metrics" in capsys.readouterr().err and not radeval.calls  # nothing was sent
    assert main(["eval", str(preds), "-o", str(tmp_path / "m.json"), "--no-meteor", "--metrics", "bertscore"]) == 2


def test_without_radeval_the_error_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "radeval", None)  # import radeval -> ImportError
    assert main(["eval", str(_preds(tmp_path)), "-o", str(tmp_path / "m.json"), "--no-meteor",
                 "--metrics", "radeval:bertscore"]) == 2
    assert "pip install 'radrl[radeval]'" in capsys.readouterr().err


def test_the_extra_is_pinned_and_fits_radrls_pins():
    import tomllib
    from pathlib import Path

    from packaging.specifiers import SpecifierSet

    from radrl.metrics.radeval_adapter import RADEVAL_REQUIRES, RADEVAL_VERSION

    root = Path(__file__).resolve().parents[1]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["radeval"] == [f"radeval=={RADEVAL_VERSION}"]
    pins = dict(line.split("==") for line in (root / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for package, spec in RADEVAL_REQUIRES.items():
        assert pins[package] in SpecifierSet(spec), (package, pins[package], spec)
