"""The ``raysearch`` command: each subcommand parses, validates, calls one library function, prints.

User mistakes (bad files, keys, values, paths) print one line starting with ``error:`` and exit
with code 2; nothing is started and nothing is lost.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from raysearch.errors import UserError
from raysearch.search.strategy import SAMPLERS, SCHEDULERS

RESULTS_HELP = "Folder that holds experiments (default: results)."


def _parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """``--set model.depth=3`` pairs, values read as YAML scalars (3, 1e-4, true, [0.1, 0.2])."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: write KEY=VALUE, e.g. --set model.depth=3")
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise UserError(f"--set {item!r}: cannot read the value {raw!r}") from None
    return out


def _say(msg: str) -> None:
    click.echo(msg)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="raysearch")
def cli() -> None:
    """Search face-inpainting GAN designs on Ray Tune + Optuna + ASHA.

    \b
    Example: raysearch submit                      # quick start on the embedded faces
             raysearch status <name>; raysearch best <name> --out best/
    """


@cli.command()
@click.option("--space", "space_path", type=click.Path(path_type=Path), default=None,
              help="Search-space YAML (default: search_spaces/quickstart.yaml).")
@click.option("--data", default=None, help="Face folder, Parquet shards, or 'embedded'.")
@click.option("--num-samples", type=int, default=8, show_default=True, help="Trials to run.")
@click.option("--max-epochs", type=int, default=None, help="Epochs per trial (ASHA's max_t).")
@click.option("--name", default=None, help="Experiment name (default: search-DATE-TIME).")
@click.option("--metric", default=None,
              help="val_psnr | val_ssim | val_l1 | val_l1_hole (default: the space's, else val_psnr).")
@click.option("--results", default="results", show_default=True, help=RESULTS_HELP)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampler.")
@click.option("--workers-per-trial", type=int, default=1, show_default=True,
              help="Ray Train workers per trial (>1: data-parallel TorchTrainer).")
@click.option("--cpus-per-worker", type=float, default=1.0, show_default=True)
@click.option("--gpus-per-worker", type=float, default=0.0, show_default=True,
              help="Fractions share a GPU between trials.")
@click.option("--max-concurrent", type=int, default=0, help="Trials at once (default: by CPUs).")
@click.option("--reduction-factor", type=int, default=2, show_default=True,
              help="ASHA's reduction factor.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="tpe", show_default=True,
              help="How configurations are proposed: Optuna's TPE, or random search (a baseline).")
@click.option("--scheduler", type=click.Choice(SCHEDULERS), default="asha",
              show_default=True,
              help="asha: stop weak trials early; none: every trial trains all its epochs.")
@click.option("--startup-trials", type=int, default=10, show_default=True,
              help="TPE: random proposals before it starts modelling the results.")
@click.option("--epoch-budget", type=int, default=0,
              help="End the search once its trials have trained this many epochs in all "
                   "(default: no budget, run --num-samples trials).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config key in every trial, e.g. --set data.image_size=64.")
def submit(space_path: Path | None, data: str | None, num_samples: int, max_epochs: int | None,
           name: str | None, metric: str | None, results: str, seed: int, workers_per_trial: int,
           cpus_per_worker: float, gpus_per_worker: float, max_concurrent: int,
           reduction_factor: int, sampler: str, scheduler: str, startup_trials: int,
           epoch_budget: int, sets: tuple[str, ...]) -> None:
    """Run a search: TPE proposes configurations, ASHA stops weak trials early.

    \b
    Example: raysearch submit --space search_spaces/quickstart.yaml \\
                 --data ../shared/data/celeba --num-samples 16 --max-epochs 8 --name celeba-1
    Baseline: raysearch submit --sampler random --scheduler none --name random-1
    """
    from raysearch.build import validate_names
    from raysearch.search.runner import DEFAULT_SPACE, SearchSpec, prepare_search, run_search

    spec = SearchSpec(
        name=name or time.strftime("search-%Y%m%d-%H%M%S"),
        space_path=str(space_path or DEFAULT_SPACE), results=results, data=data,
        num_samples=num_samples, max_epochs=max_epochs, metric=metric, seed=seed,
        workers_per_trial=workers_per_trial, cpus_per_worker=cpus_per_worker,
        gpus_per_worker=gpus_per_worker, max_concurrent=max_concurrent,
        reduction_factor=reduction_factor, overrides=_parse_sets(sets), sampler=sampler,
        scheduler=scheduler, startup_trials=startup_trials, epoch_budget=epoch_budget)
    prepared = prepare_search(spec, check=validate_names, say=_say)
    best = run_search(prepared, say=_say)
    if best is None:
        raise click.ClickException("no trial finished an epoch; see 'raysearch status "
                                   f"{spec.name}' for the errors")
    b = best["best"]
    click.echo(f"\nbest trial {best['number']} (epoch {best['best_epoch']}): "
               f"val_psnr {b.get('val_psnr', float('nan')):.3f}  "
               f"val_ssim {b.get('val_ssim', float('nan')):.4f}")
    for k, v in sorted(best["params"].items()):
        click.echo(f"  {k} = {v}")
    click.echo(f"checkpoint: {best['best_checkpoint']}")
    click.echo(f"pull it with: raysearch best {spec.name} --out best-{spec.name}")


@cli.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Config YAML (default: built-in defaults).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("results/train"),
              show_default=True, help="Run folder: checkpoints, metrics.jsonl, sample grids.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
def train(config_path: Path | None, out: Path, sets: tuple[str, ...]) -> None:
    """Train one configuration in this process, without Ray.

    \b
    Example: raysearch train --config my.yaml --out runs/a --set train.epochs=3
    """
    from raysearch.build import validate_names
    from raysearch.config import Config, load_config
    from raysearch.train import train as train_loop

    cfg = load_config(config_path) if config_path else Config()
    cfg = cfg.with_overrides(_parse_sets(sets), where="--set")
    validate_names(cfg)
    metrics = train_loop(cfg, out, log=_say)
    click.echo(f"done: val_psnr {metrics['val_psnr']:.3f} val_ssim {metrics['val_ssim']:.4f}; "
               f"checkpoints in {out / 'checkpoints'}")


@cli.command()
@click.argument("name")
@click.option("--results", default="results", show_default=True, help=RESULTS_HELP)
def status(name: str, results: str) -> None:
    """Print the trial table of an experiment (works while it runs).

    \b
    Example: raysearch status celeba-1
    """
    from raysearch.search.experiment import open_experiment, status_table

    click.echo(status_table(open_experiment(name, results)))


@cli.command()
@click.argument("name")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder to copy the checkpoint and its config into.")
@click.option("--trial", "trial_number", type=int, default=None,
              help="Pull this trial's best checkpoint instead of the best trial's.")
@click.option("--results", default="results", show_default=True, help=RESULTS_HELP)
def best(name: str, out: Path, trial_number: int | None, results: str) -> None:
    """Copy the best checkpoint and its resolved config to OUT, and check that it loads.

    \b
    Example: raysearch best celeba-1 --out best-celeba
    """
    from raysearch.search.experiment import open_experiment, pull_checkpoint

    exp = open_experiment(name, results)
    trial = pull_checkpoint(exp, out, trial_number)
    b = trial["best"]
    click.echo(f"trial {trial['number']} epoch {trial['best_checkpoint_epoch']}: "
               f"val_psnr {b.get('val_psnr', float('nan')):.3f} "
               f"val_ssim {b.get('val_ssim', float('nan')):.4f} -> {out} (loads)")


@cli.command()
@click.argument("experiments", nargs=-1, required=True)
@click.option("--strategy", "strategies", multiple=True, metavar="SAMPLER+SCHEDULER",
              help="tpe+asha, tpe+none, random+asha or random+none; repeat it (default: all four).")
@click.option("--seeds", type=int, default=10, show_default=True,
              help="Simulated searches per strategy (sampler seeds 0..N-1).")
@click.option("--trials", type=int, default=10, show_default=True,
              help="Budget: the epochs of this many full trials, the same for every strategy.")
@click.option("--max-concurrent", type=int, default=2, show_default=True, help="Trials at once.")
@click.option("--startup-trials", type=int, default=10, show_default=True,
              help="TPE: random proposals before it starts modelling the results.")
@click.option("--seconds-per-epoch", type=float, default=0.05, show_default=True,
              help="Mean time a replayed epoch takes (orders concurrent trials' results).")
@click.option("--results", default="results/simulated", show_default=True,
              help="Folder for the simulated experiments (one per strategy and seed).")
def simulate(experiments: tuple[str, ...], strategies: tuple[str, ...], seeds: int, trials: int,
             max_concurrent: int, startup_trials: int, seconds_per_epoch: float,
             results: str) -> None:
    """Compare search strategies in seconds by replaying finished experiments' learning curves.

    Trials that ran all epochs in EXPERIMENTS form a table; each simulated trial replays the
    curve of the nearest recorded configuration, through the real Tune + Optuna + ASHA search.

    \b
    Example: raysearch simulate results/celeba-1 results/celeba-2 --seeds 20 --trials 10
    """
    import optuna

    from raysearch.search.compare import STRATEGIES, compare_strategies, comparison_table
    from raysearch.search.runner import SearchSpec
    from raysearch.search.simulate import CurveTable, simulate_search
    from raysearch.search.strategy import Strategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one "study created" line per search
    table = CurveTable.from_experiments([Path(e) for e in experiments])
    chosen = [Strategy.parse(s) for s in strategies] or list(STRATEGIES)
    click.echo(f"table: {len(table.curves)} complete {table.epochs}-epoch curves "
               f"({table.left_out} shorter trials left out) from {len(experiments)} experiment(s)")
    base = SearchSpec(name="simulated", results=results, max_epochs=table.epochs,
                      max_concurrent=max_concurrent, startup_trials=startup_trials)
    stamp = time.strftime("%Y%m%d-%H%M%S-")
    runs = compare_strategies(
        lambda spec: simulate_search(table, spec, seconds_per_epoch, say=lambda _m: None),
        base, chosen, range(seeds), trials, prefix=stamp)
    text, _ = comparison_table(runs, table.metric, table.mode, trials * table.epochs)
    click.echo(text)


@cli.group()
def data() -> None:
    """Data utilities."""


@data.command("pack")
@click.argument("folder", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--shard-size", type=int, default=2000, show_default=True, help="Images per shard.")
def pack(folder: Path, out: Path, shard_size: int) -> None:
    """Write a folder of face images as Parquet shards (encoded bytes + id).

    \b
    Example: raysearch data pack ../shared/data/celeba /nfs/celeba-shards
    """
    from raysearch.data import pack_folder

    shards = pack_folder(folder, out, shard_size)
    click.echo(f"wrote {len(shards)} shard(s) to {out}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
