"""The coordinator: the Engine that wires the core once, with its bus, store, fold, queue, scheduler and pipeline."""
