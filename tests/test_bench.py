"""The benchmark's parsing and judging (no timing is asserted here: figures live in bench/RESULTS.md)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parent.parent / "bench" / "bench.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["bench"] = bench  # dataclasses look their module up while the file runs
spec.loader.exec_module(bench)

UP_OUTPUT = """\
  created   state.secrets                   0.0s  at    0.0s
  ok        gogs.ready                      1.2s  at    2.0s
  created   gogs.bot                        0.1s  at    2.8s
  ok        registry.push-pull              0.5s  at    2.2s
  ok        jenkins.ready                   5.5s  at    6.9s
  created   jenkins.credentials.gogs        0.0s  at    7.1s

Stack 'x' is up: 12 step(s) changed something.
"""


def test_step_finish_times_read_from_up_output():
    times = bench.step_finish_times(UP_OUTPUT)
    assert times["gogs.bot"] == 2.8 and times["registry.push-pull"] == 2.2 and times["jenkins.ready"] == 6.9
    assert "Stack" not in times


def test_overlap_is_judged_per_run():
    late_registry = {**bench.step_finish_times(UP_OUTPUT), "registry.push-pull": 7.0}
    figures = bench.timeline_figures([bench.step_finish_times(UP_OUTPUT), late_registry])
    assert figures[-1].met is False
    assert bench.timeline_figures([bench.step_finish_times(UP_OUTPUT)])[-1].met is True


def test_targets_follow_the_issue():
    figures = {
        "cold up": bench.Figure("cold up", [12.0] * 5, [10.0] * 5),  # +2 s is within the 3 s allowance
        "no-op up": bench.Figure("no-op up", [1.5] * 5, [0.7] * 5),
        "status vs compose ps": bench.Figure("status vs compose ps", [0.3] * 5, [0.1] * 5),
        "--help": bench.Figure("--help", [0.2] * 5),
        "--version": bench.Figure("--version", [0.1] * 5),
    }
    bench.judge(figures)
    assert [f.met for f in figures.values()] == [True, False, False, False, True]
    assert "ratio" in bench.table(list(figures.values())).splitlines()[0]
