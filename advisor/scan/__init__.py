"""Reading sources and recording facts: files, decoding, the libcst pass, imports, values, noqa, the op index, YAML."""
