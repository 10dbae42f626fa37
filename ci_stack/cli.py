"""The command line: parse, call the layer below, print. Heavy imports wait until a command needs them."""

from __future__ import annotations

import json
import sys
import traceback

import click

from ci_stack import __version__
from ci_stack.errors import EXIT_BAD_INPUT, EXIT_FAILED, CiStackError

DEFAULT_TIMEOUT = 600
DEFAULT_BUILD_TIMEOUT = 1800


class CiStackGroup(click.Group):
    """Catches the one exception hierarchy once: one line on stderr and a documented exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CiStackError as exc:
            self._fail(ctx, exc.message, exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a bug: still one line, the traceback only with --debug
            self._fail(ctx, f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", EXIT_FAILED)

    @staticmethod
    def _fail(ctx: click.Context, message: str, code: int):
        if ctx.params.get("debug"):
            traceback.print_exc()
        click.echo(f"ci-stack: error: {message}", err=True)
        ctx.exit(code)


@click.group(cls=CiStackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ci-stack")
@click.option("--config", "config_file", envvar="CI_STACK_CONFIG", metavar="FILE",
              help="Config file [default: ./ci-stack.toml when present; env CI_STACK_CONFIG]")
@click.option("--project-name", envvar="CI_STACK_PROJECT_NAME", metavar="NAME",
              help="Compose project name [default: ci-stack; env CI_STACK_PROJECT_NAME]")
@click.option("--state-dir", envvar="CI_STACK_STATE_DIR", metavar="DIR",
              help="Rendered files and secrets [default: ~/.local/share/ci-stack/<project>; env CI_STACK_STATE_DIR]")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, config_file, project_name, state_dir, debug):
    """Git server (Gogs), Docker registry and Jenkins on this Docker host, configured and ready."""
    ctx.obj = {"config_file": config_file, "project_name": project_name, "state_dir": state_dir}


def load_stack(ctx: click.Context):
    from ci_stack import config
    from ci_stack.stack import Stack

    settings = config.resolve_settings(**ctx.obj)
    return Stack(config.load(settings))


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.argument("path", default="ci-stack.toml", type=click.Path(dir_okay=False))
def init(force, path):
    """Write a commented ci-stack.toml with every key at its default."""
    from pathlib import Path

    from ci_stack.config import init_file_text
    from ci_stack.errors import BadInput

    target = Path(path)
    if target.exists() and not force:
        raise BadInput(f"{target} already exists (use --force to overwrite)")
    target.write_text(init_file_text())
    click.echo(f"wrote {target}")


@cli.command(name="render")
@click.option("--output", type=click.Path(file_okay=False), help="Write here instead of the state dir.")
@click.pass_context
def render_command(ctx, output):
    """Render the Compose file and every service file."""
    from pathlib import Path

    stack = load_stack(ctx)
    target = stack.render(Path(output).absolute() if output else None)
    click.echo(f"rendered into {target}")


@cli.command()
@click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True, type=click.IntRange(1),
              help="Seconds to wait for the services.")
@click.option("--no-configure", is_flag=True, help="Start the containers but do not configure the services.")
@click.pass_context
def up(ctx, timeout, no_configure):
    """Render, build, start and configure the stack. Safe to run again at any time."""
    from ci_stack.ui import StepPrinter, print_summary

    stack = load_stack(ctx)
    runner = stack.up(StepPrinter(), timeout=timeout, configure=not no_configure)
    print_summary(stack, runner)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def status(ctx, as_json):
    """One row per service; exit status 0 only when every service runs and is healthy."""
    from ci_stack.ui import print_status

    states = load_stack(ctx).status()
    if as_json:
        click.echo(json.dumps([{"service": s.service, "state": s.state, "health": s.health, "url": s.url}
                               for s in states], indent=2))
    else:
        print_status(states)
    ctx.exit(0 if all(s.ok for s in states) else EXIT_FAILED)


@cli.command()
@click.argument("services", nargs=-1, type=click.Choice(["gogs", "registry", "jenkins"]))
@click.option("--follow", "-f", is_flag=True, help="Keep following.")
@click.option("--tail", type=click.IntRange(0), help="Only the last N lines of each service.")
@click.pass_context
def logs(ctx, services, follow, tail):
    """Show the services' logs."""
    stack = load_stack(ctx)
    stack.engine.check_available()
    for chunk in stack.engine.logs(list(services), follow, tail):
        click.echo(chunk, nl=False)


@cli.command()
@click.option("--volumes", is_flag=True, help="Also delete the data volumes.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting data.")
@click.pass_context
def down(ctx, volumes, yes):
    """Remove the containers and networks; data volumes stay unless --volumes."""
    stack = load_stack(ctx)
    if volumes and not yes and not click.confirm(
            f"Delete every repository, image and job of '{stack.config.settings.project_name}'?", default=False):
        click.echo("nothing removed", err=True)
        ctx.exit(EXIT_BAD_INPUT)
    stack.down(volumes)
    click.echo("removed containers and networks" + (" and volumes" if volumes else "; data volumes kept"))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def credentials(ctx, as_json):
    """Print URLs, usernames, passwords and tokens (the only command that prints secrets)."""
    from ci_stack.ui import print_credentials

    found = load_stack(ctx).credentials()
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        print_credentials(found)


@cli.command(name="seed-repo")
@click.argument("template", default="numbers")
@click.option("--name", help="Repository and job name [default: the template's name].")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Build once and wait for the result.")
@click.option("--timeout", default=DEFAULT_BUILD_TIMEOUT, show_default=True, type=click.IntRange(1),
              help="Seconds to wait for the build.")
@click.option("--force-push", is_flag=True, help="Replace an existing repository's history with the template.")
@click.option("--list", "list_templates", is_flag=True, help="List the project templates and exit.")
@click.pass_context
def seed_repo(ctx, template, name, wait, timeout, force_push, list_templates):
    """Push a demo project to Gogs, create its Jenkins pipeline and webhook, and build it."""
    from ci_stack import seed
    from ci_stack.ui import StepPrinter, print_progress, print_seed_result, print_templates

    if list_templates:
        print_templates(seed.project_templates())
        return
    result = seed.seed(load_stack(ctx), template, name, StepPrinter(), wait=wait, timeout=timeout,
                       force_push=force_push, progress=print_progress)
    print_seed_result(result)


def main() -> None:
    cli(prog_name="ci-stack")


if __name__ == "__main__":
    sys.exit(main())
