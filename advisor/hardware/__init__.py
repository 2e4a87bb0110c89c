"""The GPU table, detection on this machine, and the recommendation for a target."""
