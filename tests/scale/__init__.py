"""The scale profile: readiness, structured logs, the stack run for real."""
