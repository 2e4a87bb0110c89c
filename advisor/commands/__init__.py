"""The command line: one module per subcommand, the parser and the output formats."""
