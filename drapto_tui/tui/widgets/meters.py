"""Live resource meters from RESOURCE_SAMPLE events: CPU per core, memory, disk I/O, temp space, per job."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from drapto_tui.config.units import human_size
from drapto_tui.model.events import ResourceSample

SPARK = "▁▂▃▄▅▆▇█"


def bar(fraction: float, width: int) -> str:
    full = int(max(0.0, min(fraction, 1.0)) * width)
    return "█" * full + "░" * (width - full)


def spark(values: list[float]) -> str:
    return "".join(SPARK[min(int(v / 100 * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for v in values)


class Meters(Static):
    compact: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sample: ResourceSample | None = None
        self.history: deque[float] = deque(maxlen=30)
        self.job_id: str | None = None

    def feed(self, sample: ResourceSample) -> None:
        self.sample = sample
        cpu = sample.cpu or [0.0]
        self.history.append(sum(cpu) / len(cpu))
        self.refresh_text()

    def watch_compact(self) -> None:
        self.refresh_text()

    def select(self, job_id: str | None) -> None:
        if job_id != self.job_id:
            self.job_id = job_id
            self.refresh_text()

    def on_resize(self) -> None:
        self.refresh_text()  # the compact line picks what fits the width it has now

    def refresh_text(self) -> None:
        s = self.sample
        if s is None:
            self.update(Text("CPU –  MEM –  disk –  (waiting for the first sample)", style="dim"))
            return
        cpu = s.cpu or [0.0]
        avg = sum(cpu) / len(cpu)
        mem = 1 - s.mem_available / max(s.mem_total, 1)
        disk = f"R {human_size(s.disk_read_bps)}/s W {human_size(s.disk_write_bps)}/s"
        job = s.jobs.get(self.job_id or "")
        if self.compact:
            # One line: the parts that fit whole, most wanted first; a part never loses its unit to the edge.
            line = Text()
            line.append(f"CPU {avg:3.0f}% ", style="bold")
            line.append(spark(list(self.history)[-8:]))
            room = (self.size.width or 80) - line.cell_len
            for part, style in (
                (f"  MEM {mem:.0%}", "bold"),
                (f"  tmp {human_size(s.temp_free)} free", ""),
                (f"  ours {human_size(s.rss_tree)}", "bold"),
                *(
                    [(f"  workers {len(s.workers)} CPU {sum(u.cpu for u in s.workers.values()):.0f}%", "")]
                    if s.workers
                    else []
                ),
                (f"  {disk}", ""),
            ):
                if len(part) <= room:
                    line.append(part, style=style)
                    room -= len(part)
            self.update(line)
            return
        out = Text()
        width = max((self.size.width or 40) - 14, 8)
        out.append(f"CPU {avg:3.0f}% ", style="bold")
        out.append(spark(list(self.history)) + "\n")
        # One column per core (height = load), so 2 or 64 cores both fit on a line or two.
        cores = "".join(SPARK[min(int(v / 100 * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for v in cpu)
        for start in range(0, len(cores), width):
            out.append(("cores " if start == 0 else "      ") + cores[start : start + width] + "\n")
        out.append(f"MEM {bar(mem, 10)} {mem:.0%} of {human_size(s.mem_total)}\n", style="bold")
        out.append(f"ours {human_size(s.rss_tree)} ({s.processes} procs, FFmpeg incl.)\n")
        out.append(f"disk {disk}\n")
        out.append(f"temp free {human_size(s.temp_free)}")
        if job:
            out.append(f"\njob CPU {job.cpu:.0f}%  RSS {human_size(job.rss)}")
        for name, usage in sorted(s.workers.items()):  # Dask: each worker and its FFmpeg, on its machine
            out.append(f"\n{name}: CPU {usage.cpu:.0f}%  RSS {human_size(usage.rss)}")
        self.update(out)
