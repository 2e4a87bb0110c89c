"""Other tools' entry points: the flake8 plugin."""
