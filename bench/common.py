"""What every benchmark shares: percentiles, process usage and writing its figures."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from simulators.fleet.stats import percentiles

__all__ = ["RESULTS", "percentiles", "process_usage", "publish"]

RESULTS = Path(__file__).resolve().parent / "results"


def publish(result: dict, path: Path, print_table: Callable[[dict], None]) -> None:
    """Print the table, write the JSON, say where."""
    print_table(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"JSON: {path}")


def process_usage(pid: int) -> dict[str, float]:
    """RSS (MiB) and user+system CPU seconds of ``pid``, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return {"rss_mib": round(rss_kib / 1024, 1), "cpu_seconds": round(cpu, 2)}
