"""The `phenbench` command line: a thin shell over library functions.

The group is built by `build_cli`, fresh for each invocation, so that plugins' `register_commands`
hooks add their commands to a new group every time (and tests can build one with their own plugins).
Importing this module imports no torch: `phenbench --help` and `phenbench list` start instantly.
"""

from __future__ import annotations

import sys

import click
import pluggy

from phenbench import __version__
from phenbench.core.errors import PhenbenchError
from phenbench.core.plugins import collect_registries, make_plugin_manager

LIST_KINDS = ("translators", "datasets", "metrics", "plugins")


class UserError(click.ClickException):
    """A PhenbenchError shown as one line, exit status 2, no traceback."""

    exit_code = 2


class PhenbenchGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PhenbenchError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            # The system refused a file operation (a missing or read-only folder, permissions, a full
            # disk, /proc): the user's environment, not a bug, so one line naming the file.
            raise UserError(os_error_line(exc)) from None


def os_error_line(exc: OSError) -> str:
    """`[Errno 2] No such file or directory: 'x'` as `x: no such file or directory (check the path ...)`."""
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    reason = exc.strerror or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    where = " -> ".join(files) + ": " if files else ""
    return f"{where}{reason[:1].lower()}{reason[1:]} (check the path, its folder and permissions)."


def build_cli(pm: pluggy.PluginManager | None = None) -> click.Group:
    """A new `phenbench` command group wired to the plugin manager `pm` (built if not given)."""

    @click.group(cls=PhenbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="phenbench")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """Train, run and compare phenotype translators for cell microscopy."""
        ctx.obj = ctx.obj or {}

    def registries():
        nonlocal pm
        if pm is None:
            pm = make_plugin_manager()
        return collect_registries(pm)

    @cli.command("run")
    @click.option("--translator", "-t", help="Translator name (see `phenbench list translators`). [default: identity]")
    @click.option("--dataset", "-d", help="Dataset name (see `phenbench list datasets`). [default: synthetic]")
    @click.option("--data", type=click.Path(), help="Where the dataset's files are (its root).")
    @click.option("--preset", "-p", help="Translator preset: quick, small or paper.")
    @click.option("--config", "config_path", type=click.Path(), help="Run config YAML; flags override it.")
    @click.option("--store", type=click.Path(), help="HDF5 results store. [default: results.h5]")
    @click.option("--seed", type=int, help="Random seed for data order, initialisation and sampling.")
    @click.option("--eval-seed", type=int,
                  help="Seed of what is evaluated (test images drawn, bootstrap resamples), apart from --seed. [default: 0]")
    @click.option("--pairs", type=click.Choice(["all", "from-control"]), help="Which source -> target pairs to translate.")
    @click.option("--batch-matched/--no-batch-matched", "match_batches", default=None,
                  help="From-control pairs: draw each control from its target image's plate. [default: the dataset's]")
    @click.option("--protocol", help="A shipped protocol's options (impa-bbbc021, phendiff-paper); flags override them.")
    @click.option("--metrics", help="Comma-separated metrics (default: those the dataset supports).")
    @click.option("--checkpoint", type=click.Path(), help="Load this trained translator instead of fitting.")
    @click.option("--device", help="cpu, cuda, cuda:1 or auto. [default: auto]")
    @click.option("--max-test-per-condition", type=int, help="Translate at most this many test images per source.")
    @click.option("--work-dir", type=click.Path(), help="Where checkpoints and trained models go. [default: runs]")
    @click.option("--fresh", is_flag=True, help="Ignore checkpoints of an earlier, interrupted fit.")
    @click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
    def run_command(config_path, fresh, quiet, **options) -> None:
        """Fit (or load) a translator, translate the test split, score it and store the run."""
        from phenbench.core.baseline import ensure_identity_baseline
        from phenbench.core.compare import comparison_table
        from phenbench.core.compare_headline import headline_text
        from phenbench.core.run_config import load_run_config
        from phenbench.core.runner import run_benchmark
        from phenbench.core.store import ResultsStore

        if fresh:
            options["resume"] = False
        if quiet:
            options["progress"] = False
        config = load_run_config(config_path, **options)
        found = registries()
        outcome = run_benchmark(config, found)
        record = outcome.record
        click.echo(f"\nRun {record.run_id} stored in {config.store}")
        if outcome.model_dir is not None:
            click.echo(f"Trained model: {outcome.model_dir / 'model'}")
        # The identity baseline on the same rows and options: scored once, then found in the store.
        baseline = ensure_identity_baseline(config, record, found)
        if baseline is not None:
            run_id, scored_now = baseline
            click.echo(f"Identity baseline on the same rows: run {run_id}" + (" (scored now)" if scored_now else ""))
        table = comparison_table(ResultsStore(config.store), dataset=record.dataset)
        click.echo(headline_text(table))
        click.echo(f"Every measure and condition: phenbench compare --all --store {config.store} --dataset {record.dataset}")
        if config.protocol:
            from phenbench.core.store_schema import PUBLISHED
            from phenbench.protocols import load_protocol
            from phenbench.protocols.published import other_methods_text

            if any(m.name.endswith(PUBLISHED) for m in record.metrics):
                click.echo(f"{record.translator}'s published figures sit beside its measured ones in that table "
                           "(columns marked 'published').")
            click.echo(other_methods_text(load_protocol(config.protocol), set(found.translators.names())))

    @cli.command("list")
    @click.argument("kind", type=click.Choice(LIST_KINDS), required=False)
    def list_command(kind: str | None) -> None:
        """List registered translators, datasets, metrics or plugins."""
        found = registries()
        for section in [kind] if kind else LIST_KINDS:
            click.echo(f"{section}:")
            if section == "plugins":
                for name, version in sorted(found.plugins.items()):
                    click.echo(f"  {name:<40} {version}")
            else:
                registry = getattr(found, section)
                for entry in registry:
                    origin = registry.origin(entry.name)
                    source = "" if origin.startswith("phenbench.") else f"  [{origin}]"
                    click.echo(f"  {entry.name:<18} {entry.summary}{source}")
            click.echo("")

    @cli.command("compare")
    @click.option("--store", type=click.Path(), default="results.h5", show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "latex"]), default="markdown", show_default=True)
    @click.option("--dataset", help="Only runs on this dataset.")
    @click.option("--metrics", help="Comma-separated metrics to show (default: all).")
    @click.option("--conditions",
                  help="'all', 'pooled' (one column per metric), or comma-separated condition names. [default: all]")
    @click.option("--costs", is_flag=True, help="Add fit time, translation images/s and inversion s/image columns.")
    @click.option("--all", "show_all", is_flag=True,
                  help="Every measure and condition (markdown prints the headline measures without it).")
    def compare_command(store: str, fmt: str, dataset: str | None, metrics: str | None, conditions: str | None,
                        costs: bool, show_all: bool) -> None:
        """The comparison table across methods: the headline measures, or with --all every measure and
        condition (CSV and LaTeX always hold everything)."""
        from phenbench.core.compare import comparison_text
        from phenbench.core.store import ResultsStore

        chosen = [m.strip() for m in metrics.split(",")] if metrics else None
        conditions = conditions or "all"
        columns = conditions if conditions in ("all", "pooled") else [c.strip() for c in conditions.split(",")]
        headline = fmt == "markdown" and not (show_all or metrics or costs or columns != "all")
        click.echo(comparison_text(ResultsStore(store), fmt, dataset=dataset, metrics=chosen, conditions=columns,
                                   costs=costs, headline=headline))

    @cli.command("show")
    @click.argument("run_id")
    @click.option("--store", type=click.Path(), default="results.h5", show_default=True)
    def show_command(run_id: str, store: str) -> None:
        """Everything stored about one run."""
        from phenbench.core.compare import describe_run
        from phenbench.core.store import ResultsStore

        click.echo(describe_run(ResultsStore(store).read(run_id)))

    @cli.command("merge")
    @click.argument("source", type=click.Path())
    @click.option("--store", type=click.Path(), default="results.h5", show_default=True, help="The store to add to.")
    def merge_command(source: str, store: str) -> None:
        """Add the runs of another store to --store (e.g. a run kept when its store refused it)."""
        from phenbench.core.store import ResultsStore

        added, present = ResultsStore(store).merge(ResultsStore(source))
        click.echo(f"{len(added)} run(s) added to {store}, {len(present)} already there.")

    plugin_manager = pm if pm is not None else make_plugin_manager()
    pm = plugin_manager
    plugin_manager.hook.register_commands(cli=cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli = build_cli()
    except PhenbenchError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="phenbench")


if __name__ == "__main__":
    main()
