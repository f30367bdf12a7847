"""What a run does, as explicit stages: each idempotent, run on rank 0 while the others wait on
its output file (:mod:`radrl.stages.base`), never inside a barrier.

``radrl train``: benchmark, subset, labeler, criticality, rollout-model, train, evaluate
(:mod:`radrl.stages.rl`); ``radrl train --only labeler`` runs one preparing stage alone.
``radrl pipeline`` (and the demo's SFT): benchmark, tiny-init, vision-pretrain, sft, evaluate
(:mod:`radrl.stages.sft`). :func:`run_stages` prints a plan and runs exactly it, for every command.
"""

from radrl.stages.base import Stage, StageContext, plan_lines, run_stage, run_stages, stage_state
from radrl.stages.rl import RL_STAGES, STAGE_NAMES, run_rl

__all__ = ["RL_STAGES", "STAGE_NAMES", "Stage", "StageContext", "plan_lines", "run_rl", "run_stage", "run_stages",
           "stage_state"]
