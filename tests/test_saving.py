"""The parts of saving a (sharded) policy that need no launch: tests/test_scale_fsdp.py runs them
under FSDP2 on 2 processes."""

import torch

from radrl.training.saving import active_adapter_state, without_tied_copies


def test_only_the_active_adapter_is_kept_for_the_merge():
    state = {
        "base_model.model.layers.0.q_proj.base_layer.weight": 1,
        "base_model.model.layers.0.q_proj.lora_A.default.weight": 2,
        "base_model.model.layers.0.q_proj.lora_A.ref.weight": 3,   # TRL's reference copy
        "base_model.model.layers.0.q_proj.lora_B.ref.weight": 4,
        "base_model.model.ref.weight": 5,                          # a module named ref is not an adapter
    }
    kept = active_adapter_state(state, {"ref"})
    assert sorted(kept.values()) == [1, 2, 5]
    assert active_adapter_state(state, set()) == state


def test_tied_parameters_are_saved_once():
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(5, 3)
            self.head = torch.nn.Linear(3, 5, bias=False)
            self.head.weight = self.embed.weight
            self.other = torch.nn.Linear(3, 3)

    model = Tied()
    gathered = {k: v.clone() for k, v in model.state_dict().items()}  # as FSDP's gather returns it: copies
    assert set(gathered) == {"embed.weight", "head.weight", "other.weight", "other.bias"}
    assert set(without_tied_copies(model, gathered)) == {"embed.weight", "other.weight", "other.bias"}
