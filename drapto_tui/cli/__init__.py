"""The command line: argument parsing and the headless commands (encode, queue, probe, config)."""
