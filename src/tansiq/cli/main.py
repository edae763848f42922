"""``tansiq``: command-line entry point. Each command parses, calls the API, renders."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tansiq import __version__
from tansiq.cli.demo import demo
from tansiq.cli.load import load
from tansiq.cli.party import party
from tansiq.cli.render import conflicts_json, conflicts_table
from tansiq.cli.serve import serve
from tansiq.engine.detect import detect
from tansiq.errors import ScenarioInvalid, TansiqError
from tansiq.scenario.reader import load_scenario

#: scenarios with at least this many volumes get a progress bar (on a terminal)
PROGRESS_FROM = 2_000

SCENARIO = click.Path(dir_okay=False, path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tansiq")
def cli() -> None:
    """Tansiq: deconfliction between parties that share a space.

    Parties notify where and when they will act (4D volumes) and which sites must
    not be hit; Tansiq finds every pair of volumes of different parties closer than
    their agreed separation, exactly, anywhere on Earth.

    Scenario files are GeoJSON (scenario-v1, see docs/scenario-format.md).
    Exit status: 0 success; 2 input that cannot be used (a file that breaks the
    format, a file that is missing, a value refused); 130 interrupted; 1 any other error.
    """


@cli.command()
@click.argument("scenario", type=SCENARIO)
def validate(scenario: Path) -> None:
    """Check SCENARIO against scenario-v1 and report every problem.

    Prints one line per problem, naming the feature and the rule, and exits with
    status 2 if there is any; prints a summary and exits 0 otherwise.
    """
    loaded = load_scenario(scenario)
    click.echo(
        f"{scenario}: valid, {len(loaded.volumes)} volumes of {len(loaded.parties)} parties, "
        f"{len(loaded.separation)} separation rules"
    )


@cli.command()
@click.argument("scenario", type=SCENARIO)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on standard output.")
def conflicts(scenario: Path, as_json: bool) -> None:
    """Find every conflict in SCENARIO.

    A conflict is two volumes of different parties whose footprints, altitude
    bands and time windows are all within the separation for their kinds.
    With --json, prints {"conflicts": [...]}: one entry per pair with a and b
    (feature ids, a < b), horizontal_distance_m, vertical_gap_m and time_gap_s,
    sorted by (a, b). Without it, prints a table.
    """
    loaded = load_scenario(scenario)
    err = Console(stderr=True)
    with _progress(err, enabled=len(loaded.volumes) >= PROGRESS_FROM) as report:
        found = detect(loaded, progress=report)
    if as_json:
        click.echo(conflicts_json(found))
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=200)  # a pipe or file: never cut ids to fit 80 columns
        conflicts_table(found, out)


cli.add_command(party)
cli.add_command(serve)
cli.add_command(load)
cli.add_command(demo)


@contextmanager
def _progress(console: Console, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not (enabled and console.is_terminal):
        yield None
        return
    columns = (
        TextColumn("checking time blocks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("pairs", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


def main() -> None:
    """Run the CLI, turning every Tansiq error into a message and its exit status."""
    try:
        cli.main(standalone_mode=False)
    except ScenarioInvalid as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        noun = "problem" if len(exc.problems) == 1 else "problems"
        click.echo(f"refused: {len(exc.problems)} {noun}, nothing was done", err=True)
        sys.exit(exc.exit_code)
    except TansiqError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
