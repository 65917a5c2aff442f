"""Screenshots of the real app during a real encode of the demo clips: `python3 dev.py screenshots`.

Writes main-120x40.svg (mid-encode), main-80x24.svg, inspector.svg, inspector-chart-80x24.svg, help.svg and
stats-80x24.svg (once a film is done) beside this file.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # samples/ (the demo's films) lives beside the package, not in it

from drapto_tui.config import load_config  # noqa: E402
from drapto_tui.engine.engine import Engine  # noqa: E402
from drapto_tui.model.events import ProcessingStatus  # noqa: E402
from drapto_tui.model.state import SegmentStatus  # noqa: E402
from drapto_tui.tui.app import DraptoApp  # noqa: E402
from samples.demo import demo_paths  # noqa: E402


async def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            use_default_file=False,
            overrides=[
                f"processing.temp_dir={json.dumps(tmp)}",
                f"output.dir={json.dumps(tmp + '/out')}",
                "encoding.preset=8",
                'processing.segmentation="fixed"',
                "processing.chunk_size=3",
                "processing.min_segment=2",
                'search.if_too_big="encode"',
            ],
        )
        paths = demo_paths(config)
        app = DraptoApp(Engine(config), paths)
        async with app.run_test(size=(120, 40)) as pilot:
            state = app.core.state
            deadline = time.monotonic() + 300

            def mid_encode_job() -> str | None:
                """A running job with two segments done: the one shown, so its grid and chart have points."""
                return next(
                    (
                        j.job_id
                        for j in state.jobs.values()
                        if j.status == ProcessingStatus.RUNNING
                        and sum(s.status == SegmentStatus.DONE for s in j.segments.values()) >= 2
                    ),
                    None,
                )

            def mid_encode() -> bool:
                return mid_encode_job() is not None

            while not mid_encode():
                if time.monotonic() > deadline:
                    print("no job reached mid-encode in 5 minutes", file=sys.stderr)
                    return 1
                await pilot.pause(0.2)
            app.query_one("#queue").select_job(mid_encode_job())
            await pilot.pause(1.2)  # a resource sample or two
            app.save_screenshot(str(HERE / "main-120x40.svg"))
            await pilot.press("enter", "right")
            await pilot.pause(0.6)
            app.save_screenshot(str(HERE / "inspector.svg"))
            await pilot.press("escape")
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.6)
            app.save_screenshot(str(HERE / "main-80x24.svg"))
            await pilot.press("enter", "right", "right")  # the running job's segments chart, at 80x24
            await pilot.pause(0.6)
            app.save_screenshot(str(HERE / "inspector-chart-80x24.svg"))
            await pilot.press("escape")
            await pilot.pause(0.3)
            await pilot.press("question_mark")
            await pilot.pause(0.3)
            app.save_screenshot(str(HERE / "help.svg"))
            await pilot.press("escape")
            while not any(j.status == ProcessingStatus.COMPLETED for j in state.jobs.values()):
                if time.monotonic() > deadline + 300:
                    print("no job finished in 10 minutes", file=sys.stderr)
                    return 1
                await pilot.pause(0.5)
            await pilot.press("s")  # what the finished film saved, from the ledger
            await pilot.pause(0.5)
            app.save_screenshot(str(HERE / "stats-80x24.svg"))
            await pilot.press("escape")
            app.exit(0)
    for name in ("main-120x40", "inspector", "main-80x24", "inspector-chart-80x24", "help", "stats-80x24"):
        print(HERE / f"{name}.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
