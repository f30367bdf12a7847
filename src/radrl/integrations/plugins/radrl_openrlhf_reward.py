"""OpenRLHF's ``--reward.remote_url`` file (see :mod:`radrl.integrations.openrlhf`)."""

from radrl.integrations.openrlhf import reward_func

__all__ = ["reward_func"]
