"""What ci-stack costs on top of Docker Compose, measured side by side in one run (`make bench`).

Each pair runs interleaved (A B A B ...) against the real engine with the offline images, so both
sides see the same machine load. Prints one table (a stable format, to compare runs over time) and
writes it, with the machine and the date, to bench/RESULTS.md.

Compose is timed as the `docker compose` process a user would run, on the very files ci-stack
rendered; that process is the floor ci-stack is measured against.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from offline import cli_env, free_ports  # noqa: E402 (shared with the tests)

CLI = [sys.executable, "-m", "ci_stack"]
COMMAND_TIMEOUT = 600  # seconds; every command is bounded
RESULTS = ROOT / "bench" / "RESULTS.md"
# Steps whose end means "this service is configured", from `ci-stack up`'s step lines.
CONFIGURED_STEP = {"gogs": "gogs.bot", "registry": "registry.push-pull", "jenkins": "jenkins.credentials.gogs"}


@dataclass
class BenchStack:
    """One project with its own name, ports and state dir, driven by the CLI and by Compose."""

    workdir: Path
    project: str = field(default_factory=lambda: f"cibench-{secrets.token_hex(3)}")
    ports: dict[str, int] = field(default_factory=free_ports)

    @property
    def state_dir(self) -> Path:
        return self.workdir / "state"

    def env(self) -> dict[str, str]:
        return cli_env(self.project, self.state_dir, self.ports)

    def run(self, command: list[str]) -> tuple[float, str]:
        """Wall time of one command; a failing command stops the benchmark with its output."""
        start = time.perf_counter()
        done = subprocess.run(command, env=self.env(), cwd=self.workdir, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"bench: `{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return seconds, done.stdout

    def ci_stack(self, *args: str) -> tuple[float, str]:
        return self.run([*CLI, *args])

    def compose(self, *args: str) -> tuple[float, str]:
        return self.run(["docker", "compose", "-p", self.project, "-f", str(self.state_dir / "compose.yaml"), *args])

    def remove_state(self) -> None:
        shutil.rmtree(self.state_dir, ignore_errors=True)


@dataclass
class Figure:
    name: str
    ours: list[float]
    floor: list[float] | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ours) / statistics.median(self.floor) if self.floor else None


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} ({min(values):.3f}-{max(values):.3f})"


def step_finish_times(output: str) -> dict[str, float]:
    """`  created   gogs.admin   0.4s  at  3.1s` -> {"gogs.admin": 3.1}"""
    found = {}
    for match in re.finditer(r"^\s+\w+\s+(\S+)\s+[\d.]+s\s+at\s+([\d.]+)s$", output, re.MULTILINE):
        found[match.group(1)] = float(match.group(2))
    return found


def bench_cold(stack: BenchStack, repetitions: int) -> tuple[list[float], list[float], list[dict[str, float]]]:
    ours, floor, timelines = [], [], []
    for _ in range(repetitions):
        stack.remove_state()
        seconds, output = stack.ci_stack("up")
        ours.append(seconds)
        timelines.append(step_finish_times(output))
        stack.ci_stack("down", "--volumes", "--yes")
        # Compose on the same rendered files, from cold volumes too.
        seconds, _ = stack.compose("up", "--detach", "--wait")
        floor.append(seconds)
        stack.compose("down", "--volumes")
    return ours, floor, timelines


def bench_pair(repetitions: int, ours_call, floor_call) -> tuple[list[float], list[float]]:
    ours, floor = [], []
    for _ in range(repetitions):
        ours.append(ours_call()[0])
        floor.append(floor_call()[0])
    return ours, floor


def timeline_figures(timelines: list[dict[str, float]]) -> list[Figure]:
    figures = []
    for service, step in CONFIGURED_STEP.items():
        figures.append(Figure(f"up start -> {service} configured", [t[step] for t in timelines]))
    jenkins_ready = [t["jenkins.ready"] for t in timelines]
    figures.append(Figure("up start -> jenkins ready", jenkins_ready))
    overlaps = [max(t[CONFIGURED_STEP["gogs"]], t[CONFIGURED_STEP["registry"]]) < t["jenkins.ready"] for t in timelines]
    figures[-1].target = "gogs and registry configured before jenkins ready"
    figures[-1].met = all(overlaps)
    return figures


def machine() -> str:
    memory_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            text=True, timeout=30).stdout.strip()
    compose = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    return (f"{os.cpu_count()} cores, {memory_kib / 1024 / 1024:.1f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Docker Engine {engine}, Compose {compose}")


def table(figures: list[Figure]) -> str:
    lines = [f"{'figure':<36} {'ci-stack s: median (min-max)':<30} {'compose s: median (min-max)':<30} "
             f"{'ratio':>6}  target / met",
             "-" * 130]
    for f in figures:
        floor = spread(f.floor) if f.floor else "-"
        ratio = f"{f.ratio:6.2f}" if f.ratio else "     -"
        verdict = "" if f.met is None else ("yes" if f.met else "NO")
        lines.append(f"{f.name:<36} {spread(f.ours):<30} {floor:<30} {ratio}  {f.target} {verdict}".rstrip())
    return "\n".join(lines)


def judge(figures: dict[str, Figure]) -> None:
    cold = figures["cold up"]
    limit = max(1.15 * statistics.median(cold.floor), statistics.median(cold.floor) + 3)
    cold.target, cold.met = f"<= max(1.15x, +3 s) = {limit:.2f} s", statistics.median(cold.ours) <= limit
    noop = figures["no-op up"]
    noop.target = "<= 2x and < 3 s"
    noop.met = noop.ratio <= 2 and statistics.median(noop.ours) < 3
    status = figures["status vs compose ps"]
    status.target, status.met = "<= 1.5x", status.ratio <= 1.5
    for name in ("--help", "--version"):
        figures[name].target = "< 0.150 s"
        figures[name].met = statistics.median(figures[name].ours) < 0.150


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5, help="per figure (at least 5 for the record)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not update bench/RESULTS.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ci-stack-bench-") as workdir:
        stack = BenchStack(Path(workdir))
        try:
            cold_ours, cold_floor, timelines = bench_cold(stack, args.repetitions)
            stack.ci_stack("up")  # converged, for the no-op and status figures
            noop = bench_pair(args.repetitions, lambda: stack.ci_stack("up"),
                              lambda: stack.compose("up", "--detach", "--wait"))
            status = bench_pair(args.repetitions * 2, lambda: stack.ci_stack("status"), lambda: stack.compose("ps"))
            help_times = [stack.ci_stack("--help")[0] for _ in range(args.repetitions * 2)]
            version_times = [stack.ci_stack("--version")[0] for _ in range(args.repetitions * 2)]
        finally:
            subprocess.run([*CLI, "down", "--volumes", "--yes"], env=stack.env(), cwd=workdir, capture_output=True,
                           timeout=COMMAND_TIMEOUT)

    figures = {
        "cold up": Figure("cold up", cold_ours, cold_floor),
        "no-op up": Figure("no-op up", *noop),
        "status vs compose ps": Figure("status vs compose ps", *status),
        "--help": Figure("--help", help_times),
        "--version": Figure("--version", version_times),
    }
    judge(figures)
    ordered = [*figures.values(), *timeline_figures(timelines)]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    report = f"{when}; {machine()}; {args.repetitions} repetitions\n\n{table(ordered)}\n"
    print(report)
    if not args.no_write:
        RESULTS.write_text("# Benchmark results\n\nWritten by `make bench` (bench/bench.py); the newest run replaces "
                           "this file.\n\n```\n" + report + "```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
