"""The two encoding paths: Dolby Vision direct, and chunked with a VMAF-targeted CRF search."""
