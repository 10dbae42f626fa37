"""Terminal output with rich: step lines, status and credentials tables, the summary after `up`."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.table import Table

from ci_stack.steps import Outcome, StepResult

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False)

STYLES = {Outcome.CREATED: "green", Outcome.UPDATED: "yellow", Outcome.UNCHANGED: "dim", Outcome.OK: "cyan"}


class StepPrinter:
    """One line per finished step: `<outcome> <step> (<seconds>)`; safe to call from several threads."""

    def __init__(self):
        self._lock = threading.Lock()

    def started(self, name: str) -> None:
        pass

    def finished(self, result: StepResult) -> None:
        with self._lock:
            style = STYLES[result.outcome]
            console.print(f"  [{style}]{result.outcome.value:<9}[/] {result.name:<28} "
                          f"[dim]{result.seconds:6.1f}s  at {result.finished_at:6.1f}s[/]")

    def failed(self, name: str, error: Exception) -> None:
        with self._lock:
            errors.print(f"  [red]failed[/]    {name}")


def print_summary(stack, runner) -> None:
    changed = [r for r in runner.results if r.outcome in (Outcome.CREATED, Outcome.UPDATED)]
    if changed:
        console.print(f"\nStack '{stack.config.settings.project_name}' is up: {len(changed)} step(s) changed something.")
    else:
        console.print(f"\nStack '{stack.config.settings.project_name}' is up: nothing to change, nothing recreated.")
    for service, url in stack.service_urls().items():
        console.print(f"  {service:<9} {url}")
    console.print(f"Credentials: `ci-stack credentials` (stored in {stack.state.secrets_dir}, mode 0600).")


def print_status(states) -> None:
    table = Table("service", "state", "health", "url")
    for s in states:
        health_style = "green" if s.health == "healthy" else "red"
        table.add_row(s.service, s.state, f"[{health_style}]{s.health}[/]", s.url)
    console.print(table)


def print_credentials(found: dict) -> None:
    """Plain lines, never wrapped, so a secret can be copied whole."""
    for service, values in found.items():
        console.print(f"[bold]{service}[/]  {values['url']}", soft_wrap=True)
        for field in ("username", "password", "token"):
            if field in values:
                console.print(f"  {field:<9} {values[field] or '-'}", soft_wrap=True)


def print_templates(templates: dict) -> None:
    for template in templates.values():
        console.print(f"{template.name:<10} {template.description}", soft_wrap=True)


def print_progress(message: str) -> None:
    console.print(f"  [dim]...[/]       {message}")


def print_seed_result(result) -> None:
    console.print(f"\nProject '{result.name}' is seeded.")
    console.print(f"  repository {result.repository_url}")
    console.print(f"  job        {result.job_url}")
    if result.build is None:
        console.print("  build      not started (--no-wait): the next push starts one")
        return
    console.print(f"  build      #{result.build.number} [green]{result.build.result}[/]")
    for repository, tags in result.tags.items():
        console.print(f"  image      {repository}: {', '.join(tags) or 'no tags'}")
