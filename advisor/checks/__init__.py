"""The rules, one module per family, judging the facts the scan recorded."""
