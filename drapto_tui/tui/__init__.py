"""The Textual app. Only this package imports Textual; it sees the core through the event bus and state."""
