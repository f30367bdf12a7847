# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv and install the pinned dependencies first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-fast test-engines test-scale golden bench bench-rl bench-papers bench-serve lint clean sft-checkpoint

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/radrl demo

test: $(STAMP)
	$(PY) -m pytest -q

# the unit tests only (no training, no subprocesses): the inner loop, under a minute
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# A venv that sees .venv's packages and src/ (a .pth file) and adds a requirements file with
# --no-deps: $(call overlay_venv,FOLDER,REQUIREMENTS)
define overlay_venv
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -c "import site, sys; open(site.getsitepackages()[0] + '/radrl_venv.pth', 'w').write(sys.argv[1] + '\\n' + sys.argv[2] + '\\n')" \
		"$$($(PY) -c 'import site; print(site.getsitepackages()[0])')" "$$(pwd)/src"
	$(1)/bin/python -m pip install -q --disable-pip-version-check --no-deps -r $(2)
	touch $(1)/.installed
endef

# the adapters called by verl's, ms-swift's and OpenRLHF's own loading code: the engines go into
# .venv-engines with --no-deps (engines-requirements.txt), on top of .venv's packages
ENGINES_VENV := .venv-engines
ENGINES_STAMP := $(ENGINES_VENV)/.installed
$(ENGINES_STAMP): $(STAMP) engines-requirements.txt
	$(call overlay_venv,$(ENGINES_VENV),engines-requirements.txt)

test-engines: $(ENGINES_STAMP)
	$(ENGINES_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_engine_loaders.py

# ZeRO-2/3 on 2 CPU processes (DeepSpeed's CPU accelerator, gloo): DeepSpeed goes into .venv-scale
# with --no-deps (scale-requirements.txt) on top of .venv's packages; FSDP2 runs in `make test`
SCALE_VENV := .venv-scale
SCALE_STAMP := $(SCALE_VENV)/.installed
$(SCALE_STAMP): $(STAMP) scale-requirements.txt
	$(call overlay_venv,$(SCALE_VENV),scale-requirements.txt)

test-scale: $(SCALE_STAMP)
	DS_ACCELERATOR=cpu $(SCALE_VENV)/bin/python -m pytest -q -p no:cacheprovider -m deepspeed tests/test_scale_sharding.py

# rewrite tests/golden/recipes (what `radrl recipes show` prints for every shipped recipe);
# review the diff before committing it
golden: $(STAMP)
	$(PY) tests/golden/make_golden.py

# ruff and import-linter (both pinned in requirements.txt); CI runs them before the tests
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) bench/labeler_throughput.py
	$(PY) bench/labeler_quality.py
	$(PY) bench/eval_iu.py
	$(PY) bench/generation_throughput.py
	$(PY) bench/synthetic_benchmark.py
	$(PY) bench/rl_step_overhead.py
	$(PY) bench/judge_throughput.py

# RL after SFT, 3 seeds of the DEER/DiTPO tiny recipe (250 steps), from the committed (converged)
# SFT checkpoint: 400 validation studies, then 2,000 fresh test studies of seed 2 (about 25 min on
# 2 CPU cores; docs/rl.md). DEER's DDSampling 20 % vs all data is `make bench-papers`'s data_selection
RL_DATA := --set data.path=runs/synth-rl400-cmp data.synthetic.n_val=400 data.synthetic.report_style=comparison
bench-rl: $(STAMP)
	$(VENV)/bin/radrl synth runs/synth-rl400-cmp --n-val 400 --train-start 8000 --report-style comparison
	$(VENV)/bin/radrl synth runs/synth-test2000-cmp-seed2 --seed 2 --n-train 0 --n-val 0 --n-test 2000 --report-style comparison
	$(PY) bench/rl_gain.py --steps 250 --out runs/bench-rl --split val $(RL_DATA)
	$(PY) bench/rl_gain.py --steps 250 --out runs/bench-rl --eval-data runs/synth-test2000-cmp-seed2 $(RL_DATA)

# The four papers' comparisons side by side (DEER, MRG-R1, OraPO, RadFlow's CAPO, DEER's data
# selection), 3 seeds each, from the committed SFT checkpoint, every run scored on 2,000 declared
# test studies: docs/results/bench-papers.json (+ figures beside it). Hours on 2 CPU cores (about
# 3.5 min per RL run, 36 runs); it resumes run by run from that JSON, so a half-finished benchmark
# carries on where it stopped, on another machine too.
bench-papers: $(STAMP)
	$(PY) bench/papers.py

# the reward server against in-process batched scoring (1, 8, 64 clients; single samples and
# batches of 32), then a soak: SOAK_S=600 make bench-serve for the 10-minute one
SOAK_S ?= 60
bench-serve: $(STAMP)
	$(PY) bench/reward_server.py --soak $(SOAK_S)

clean:
	rm -rf $(VENV) $(ENGINES_VENV) $(SCALE_VENV) build src/*.egg-info .pytest_cache

# The committed tiny SFT checkpoint (src/radrl/models/tiny-sft, shipped in the wheel): vision
# pretraining on films of another seed, then SFT with the encoder frozen; about 32 min on 2 CPU
# cores. Then check it: python bench/sft_convergence.py runs/tiny-sft; python bench/vision_probe.py
sft-checkpoint: $(STAMP)
	$(VENV)/bin/radrl pipeline tiny_sft -o runs/tiny-sft
	$(VENV)/bin/python -m radrl.assets runs/tiny-sft/sft/final src/radrl/models/tiny-sft
