"""Guided split-brain recovery: each node's facts, which side holds acknowledged data,
and the documented HAST fix (`split-brain status`, `facts`, `resolve`)."""
