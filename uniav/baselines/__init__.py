"""Training-free baselines: pretrained classifiers' scores bridged to the user's labels by text similarity."""

from uniav.baselines.bridge import ClassBridge
from uniav.baselines.detector import BridgeDetector, BridgeSettings
from uniav.baselines.evaluate import evaluate_bridge

__all__ = ["BridgeDetector", "BridgeSettings", "ClassBridge", "evaluate_bridge"]
