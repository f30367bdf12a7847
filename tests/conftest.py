from __future__ import annotations

from pathlib import Path

import pytest

TRAINING_FIXTURES = {"tiny_vlm", "trained"}


def pytest_collection_modifyitems(config, items):
    """A test that builds or trains a model (the tiny VLM, a trained labeler) is slow: `make
    test-fast` (-m "not slow") leaves it out; `make test` runs everything."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip: a user's fresh clone has no ../shared (CI always has it)."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory) -> Path:
    """A small synthetic benchmark (40 train / 4 val / 8 test), built once per session."""
    from radrl.data.synthetic import SyntheticConfig, build_synthetic

    root = tmp_path_factory.mktemp("synthetic")
    return build_synthetic(root, SyntheticConfig(n_train=40, n_val=4, n_test=8, seed=0), progress=False)


@pytest.fixture(scope="session")
def tiny_vlm(tiny_bench, tmp_path_factory) -> Path:
    """A tiny Qwen2.5-VL (even smaller than the demo's) with a tokenizer trained on ``tiny_bench``."""
    from radrl.data.synthetic import load_synthetic
    from radrl.models.tiny import TinyVLMConfig, build_tiny_vlm

    out = tmp_path_factory.mktemp("tiny-vlm")
    cfg = TinyVLMConfig(vocab_size=400, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, vision_hidden_size=32, vision_depth=2,
                        vision_heads=2, vision_intermediate_size=64, image_size=112)
    return build_tiny_vlm(out, [s.report for s in load_synthetic(tiny_bench, "train")], cfg)


@pytest.fixture(autouse=True)
def _fresh_reward_backends(monkeypatch):
    """The engine adapters read RADRL_* from the environment and build their backend once per
    process: every test starts with neither."""
    from radrl.integrations import backends

    for var in (backends.URL_ENV, backends.RECIPE_ENV, backends.OVERRIDES_ENV, backends.TOKEN_ENV):
        monkeypatch.delenv(var, raising=False)
    backends.clear_backends()
    yield
    backends.clear_backends()
