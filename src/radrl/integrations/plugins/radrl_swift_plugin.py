"""ms-swift's ``--external_plugins`` file: importing :mod:`radrl.integrations.swift` registers
radrl's ORMs in ``swift.rewards.orms``."""

from radrl.integrations.swift import REGISTERED, RadrlComponent, RadrlRemoteReward, RadrlReward

__all__ = ["REGISTERED", "RadrlComponent", "RadrlRemoteReward", "RadrlReward"]
