"""The background service that owns the engine, its socket protocol, and its client."""
