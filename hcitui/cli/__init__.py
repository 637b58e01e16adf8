"""The command line: the console script (:func:`hcitui.cli.main.main`), its grammar, its commands, what
it prints, and the context both front ends open (:mod:`hcitui.cli.context`)."""
