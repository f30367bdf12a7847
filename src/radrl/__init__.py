"""radrl: reinforcement learning on clinical rewards for chest X-ray report generation."""

__version__ = "0.1.0"
