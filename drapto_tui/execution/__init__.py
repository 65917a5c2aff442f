"""Where segment encodes run: the Executor protocol and the local executor (slots, admission, SIGSTOP)."""
