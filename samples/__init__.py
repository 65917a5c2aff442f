"""Media made for the demo, the tests and the benchmarks, with the embedded FFmpeg (no downloads).

Not part of the product: the wheel ships only `drapto_tui`. `clips` makes synthetic clips and finds Big Buck Bunny,
`rpu` makes Dolby Vision clips with an RPU on every frame, `demo` makes the demo's films and opens the app on them
(`python3 dev.py demo`).
"""
