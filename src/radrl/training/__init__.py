"""Training on TRL: SFT (``sft.py``) and RL (``rl.py`` runs a recipe; ``rl_trainer.py`` is the
``GRPOTrainer`` subclass that calls the registered components of :mod:`radrl.algorithms`).

Nothing is imported here, so ``import radrl.training.criticality`` stays light (no TRL)."""
