"""xlrobust: robustness of zero-shot cross-lingual transfer after English intermediate training."""

__version__ = "0.1.0"
