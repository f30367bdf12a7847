"""The stage protocol every command shares (radrl.stages.base): the plan printed first, exactly
those stages run, reuse by the recorded fingerprint, a stale output refused unless the stage owns it."""

import json

import pytest


def _toy_stages(calls):
    from radrl.stages.base import Stage

    class Corpus(Stage):
        """Writes a file the next stage's fingerprint reads."""

        name = "corpus"

        def applies(self, ctx):
            return True

        def output(self, ctx):
            return ctx.out / "corpus.txt"

        def fingerprint(self, ctx):
            return {"words": ctx.recipe["words"]}

        def run(self, ctx):
            calls.append(self.name)
            self.output(ctx).write_text(" ".join(ctx.recipe["words"]))

    class Count(Stage):
        """Its fingerprint is the corpus it counts: it can only be computed once the corpus exists."""

        name = "count"

        def applies(self, ctx):
            return True

        def output(self, ctx):
            return ctx.out / "count.json"

        def fingerprint(self, ctx):
            return {"corpus": (ctx.out / "corpus.txt").read_text()}

        def run(self, ctx):
            calls.append(self.name)
            self.output(ctx).write_text(json.dumps(len((ctx.out / "corpus.txt").read_text().split())))

    class Owned(Count):
        name, replaces_stale = "owned", True

        def output(self, ctx):
            return ctx.out / "owned.json"

    class Never(Stage):
        name = "never"

        def applies(self, ctx):
            return False

        def output(self, ctx):
            return ctx.out / "never"

        def run(self, ctx):
            calls.append(self.name)

    return Corpus(), Count(), Owned(), Never()


def _plan(out: str) -> dict[str, str]:
    return {line.split()[0]: " ".join(line.split()[1:]) for line in out.splitlines() if line.startswith("  ")}


def test_a_fresh_folder_plans_without_reading_outputs_that_do_not_exist_yet(tmp_path, capsys):
    from radrl.stages.base import StageContext, run_stages

    calls = []
    stages = _toy_stages(calls)
    run_stages(stages, StageContext({"words": ["a", "b"]}, tmp_path), "toy")
    plan = _plan(capsys.readouterr().out)
    assert plan["corpus"].startswith("run") and plan["count"].startswith("run")
    assert plan["never"] == "not needed by this recipe"
    assert calls == ["corpus", "count", "owned"]
    assert json.loads((tmp_path / "count.json").read_text()) == 2


def test_outputs_are_reused_by_fingerprint_and_a_stale_one_is_refused_unless_the_stage_owns_it(tmp_path, capsys):
    from radrl.io import InputError
    from radrl.stages.base import StageContext, run_stage, run_stages

    calls = []
    corpus, count, owned, never = _toy_stages(calls)
    run_stages((corpus, count, owned), StageContext({"words": ["a", "b"]}, tmp_path), "toy")
    calls.clear()
    run_stages((corpus, count, owned), StageContext({"words": ["a", "b"]}, tmp_path), "toy")
    assert calls == []  # same settings: all three skipped
    assert set(_plan(capsys.readouterr().out).values()) == {f"skip (exists, matches): {tmp_path / n}"
                                                            for n in ("corpus.txt", "count.json", "owned.json")}
    (tmp_path / "corpus.txt").write_text("a b c")  # the corpus changed under its readers
    ctx = StageContext({"words": ["a", "b"]}, tmp_path)
    with pytest.raises(InputError, match="count.json was made with other settings"):
        run_stage(count, ctx)
    assert run_stage(owned, ctx) and calls == ["owned"]  # the owned output is made again
    assert json.loads((tmp_path / "owned.json").read_text()) == 3
    assert not run_stage(owned, ctx)  # and now matches


def test_an_output_without_a_record_is_used_as_it_is(tmp_path):
    from radrl.stages.base import StageContext, run_stage, stage_state

    calls = []
    corpus = _toy_stages(calls)[0]
    (tmp_path / "corpus.txt").write_text("made by hand")
    ctx = StageContext({"words": ["x"]}, tmp_path)
    assert stage_state(corpus, ctx) == "present"
    assert not run_stage(corpus, ctx) and calls == []
