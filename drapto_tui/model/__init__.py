"""Plain data every layer shares: events, probe results, job state, and the SegmentSpec/SegmentOutcome seam."""
