"""The guards: witness pings and the peer's read-only view, asked before promoting."""
