"""Run ``run_rl`` on a recipe JSON in its own process (resume and multi-process tests).

    python rl_run.py RECIPE.json OUT [--resume] [--stall-at STEP]

``--stall-at`` makes the run hang at the start of that step, after the checkpoint before it is
complete, so a test can SIGKILL it mid-training.
"""

import argparse
import time

from transformers import TrainerCallback

from radrl.recipe import load_recipe
from radrl.stages import run_rl


class Stall(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step + 1 == self.step:
            print("STALLING", flush=True)
            time.sleep(600)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("recipe")
    p.add_argument("out")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--stall-at", type=int)
    a = p.parse_args()
    run_rl(load_recipe(a.recipe), a.out, resume=a.resume, evaluate=False,
           callbacks=[Stall(a.stall_at)] if a.stall_at else None)
    print("DONE", flush=True)
