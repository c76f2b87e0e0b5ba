"""Transitions: steps with do/undo, plans, the executor, the journal and the guard rails."""
