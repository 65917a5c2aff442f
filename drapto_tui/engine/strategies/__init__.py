"""The two encoding paths: chunked (segments at a VMAF target) and Dolby Vision (one whole-file encode)."""
