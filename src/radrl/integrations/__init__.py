"""radrl's rewards, data and selection in other RL engines.

=================  ===================================================================
``rows.py``        the ground truth an engine carries -> the rows radrl's rewards score
``backends.py``    where rewards are computed: in this process (``RADRL_RECIPE``) or by
                   ``radrl serve`` (``RADRL_REWARD_URL``); the adapters use one of the two
``verl.py``        verl: ``compute_score`` (sync, async and batch)
``easyr1.py``      EasyR1: ``REWARD_TYPE = "batch"``, ``compute_score(reward_inputs)``
``swift.py``       ms-swift: ORMs ``radrl``, ``radrl_<reward>`` and ``radrl_remote``
``openrlhf.py``    OpenRLHF: ``reward_func(queries, prompts, labels)``
``trl.py``         TRL: an async reward function that calls the server
``export.py``      ``radrl export``: a dataset in each engine's own format
``serve/``         ``radrl serve``: the HTTP reward server (``radrl[serve]``)
=================  ===================================================================

Every adapter gives the numbers ``radrl reward`` gives on the same predictions: they all score
through :class:`radrl.rewards.offline.RewardScorer`. docs/engines.md has the launch lines.
"""
