"""`check --trace`: the model's real graph and parameter census, from a child process.

The parent calls `advisor.trace.api.trace_script` (no torch import); the child
runs `advisor.trace.runner.run`, which imports the user's script and torch.
"""
