"""One protocol for the work a run does before (and around) training.

A :class:`Stage` says whether a recipe needs it (``applies``), which file or folder it writes
(``output``), and what of the recipe that output depends on (``fingerprint``). :func:`run_stage`:

* **skips** a stage whose output exists and was made with the same fingerprint (recorded beside
  it, ``OUTPUT.stage.json``, written last and atomically), and says so;
* **refuses** an output made with another fingerprint (delete it, or point the recipe elsewhere);
* otherwise **runs** it on rank 0 only (the run folder's writer: each node's local rank 0 when
  every node has its own folder, ``rl.save_on_each_node``), while every other rank polls for that record: no stage
  runs inside a barrier or a collective, so a stage may take hours while NCCL's or gloo's timeout
  is minutes. The process group is created only after the preparing stages, by the trainer.

A stage whose work is split over the ranks (subset selection measures one shard per rank)
sets ``all_ranks``: every rank runs it, rank 0 writes the output, the others wait for the record.
A stage that owns its output outright (the demo's labeler folder) sets ``replaces_stale``: an
output of other settings is made again instead of refused.

:func:`run_stages` is every command's orchestration (``radrl train``, ``radrl pipeline``, the
demo): it prints the plan, then runs exactly the stages the plan says run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from radrl.distributed import alone, folder_ranks, is_main, wait_for
from radrl.io import InputError, output_record, output_state, write_output_record


@dataclass
class StageContext:
    """What stages share in one run: the recipe, the run folder and values one stage hands the
    next (the training samples once loaded)."""

    recipe: Any
    out: Path
    progress: bool = True
    values: dict[str, Any] = field(default_factory=dict)


class Stage:
    """A unit of work with one output. Subclasses set ``name`` and implement the four methods."""

    name: ClassVar[str] = ""
    prepares: ClassVar[bool] = True
    """Runs before training (``False``: train and evaluate, which run in every process)."""
    all_ranks: ClassVar[bool] = False
    replaces_stale: ClassVar[bool] = False

    def applies(self, ctx: StageContext) -> bool:
        raise NotImplementedError

    def output(self, ctx: StageContext) -> Path:
        raise NotImplementedError

    def fingerprint(self, ctx: StageContext) -> dict:
        return {}

    def run(self, ctx: StageContext) -> None:
        raise NotImplementedError

    def current(self, ctx: StageContext) -> bool | None:
        """Whether the output is up to date, when the stage can tell from the output itself (a
        benchmark's own config.json); ``None``: judge by the record beside the output."""
        return None

    def describe(self, ctx: StageContext) -> str:
        return str(self.output(ctx))

    def refusal(self, ctx: StageContext) -> InputError:
        """The error for an output made with other settings (a stage may say more about why)."""
        output = self.output(ctx)
        return InputError(f"stage {self.name}: {output} was made with other settings than this recipe's "
                          f"({record_path(output)}); delete both to remake it, or point the recipe at another path")


record_path = output_record


def stage_state(stage: Stage, ctx: StageContext) -> str:
    """``done`` (output and a matching record), ``stale`` (a record of other settings), ``present``
    (an output radrl did not record: used as it is), or ``missing`` (:func:`radrl.io.output_state`)."""
    current = stage.current(ctx)
    if current is not None:
        return "done" if current else "missing"
    output = stage.output(ctx)
    if not record_path(output).is_file():  # no record to compare: the fingerprint (which may read an
        return "present" if output.exists() else "missing"  # earlier stage's output) is not needed yet
    return output_state(output, stage.fingerprint(ctx))


def run_stage(stage: Stage, ctx: StageContext) -> bool:
    """Run ``stage`` under the protocol above. Returns True when it ran here, False when skipped."""
    state = stage_state(stage, ctx)
    output = stage.output(ctx)
    if state in ("done", "present"):
        print(f"stage {stage.name}: skipped, {output} exists" + (" and matches the recipe" if state == "done" else ""))
        return False
    if state == "stale" and not stage.replaces_stale:
        raise stage.refusal(ctx)
    if not (is_main() or stage.all_ranks):
        wait_for(lambda: stage_state(stage, ctx) == "done", f"{output} (rank 0 runs the {stage.name} stage)")
        return False
    start = time.monotonic()
    print(f"stage {stage.name}: running -> {output}")
    if stage.all_ranks or folder_ranks()[1] == 1:
        stage.run(ctx)
    else:
        with alone():  # a one-process job: nothing it builds waits for the other ranks
            stage.run(ctx)
    if is_main():
        write_output_record(output, stage.name, stage.fingerprint(ctx), seconds=round(time.monotonic() - start, 1))
    else:
        wait_for(lambda: stage_state(stage, ctx) == "done", f"{output} (rank 0 finishes the {stage.name} stage)")
    return True


def plan_lines(stages: list[Stage], ctx: StageContext, only: str | None = None) -> list[str]:
    """What a run will do, one line per stage: run, skip (and why), or not needed."""
    lines = []
    for stage in stages:
        if only is not None and stage.name != only:
            lines.append(f"  {stage.name:<14} not run (--only {only})")
        elif not stage.applies(ctx):
            lines.append(f"  {stage.name:<14} not needed by this recipe")
        elif not stage.prepares:
            lines.append(f"  {stage.name:<14} run")
        else:
            state = stage_state(stage, ctx)
            verb = {"done": "skip (exists, matches)", "present": "skip (exists)", "missing": "run",
                    "stale": "run again (made with other settings)" if stage.replaces_stale
                    else "refused (made with other settings)"}[state]
            lines.append(f"  {stage.name:<14} {verb}: {stage.describe(ctx)}")
    return lines


def run_stages(stages: list[Stage] | tuple[Stage, ...], ctx: StageContext, title: str,
               only: str | None = None) -> None:
    """Print the plan (:func:`plan_lines`), then run exactly the stages it lists as running: a
    preparing stage under :func:`run_stage`, training and evaluation directly."""
    print(f"{title}: stages\n" + "\n".join(plan_lines(list(stages), ctx, only)), flush=True)
    for stage in stages:
        if (only is not None and stage.name != only) or not stage.applies(ctx):
            continue
        if stage.prepares:
            run_stage(stage, ctx)
        else:
            stage.run(ctx)


__all__ = ["Stage", "StageContext", "plan_lines", "record_path", "run_stage", "run_stages", "stage_state"]
