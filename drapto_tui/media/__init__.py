"""Everything that touches media: the FFmpeg runner, toolchain checks, probing, and (later) the encode steps."""
