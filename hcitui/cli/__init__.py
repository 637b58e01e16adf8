"""The command line: the console script, the headless steps, and the context both front ends open."""
