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


ADDRESS_HELP = ("Ray cluster. http://HEAD:8265: submit the search as a Ray Job (Jobs API) and "
                "print its id; auto, HOST:PORT or ray://HEAD:10001: run the driver here, attached.")


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
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the TPE sampler.")
@click.option("--workers-per-trial", type=int, default=1, show_default=True,
              help="Ray Train workers per trial (>1: data-parallel TorchTrainer).")
@click.option("--cpus-per-worker", type=float, default=1.0, show_default=True)
@click.option("--gpus-per-worker", type=float, default=0.0, show_default=True,
              help="Fractions share a GPU between trials.")
@click.option("--max-concurrent", type=int, default=0, help="Trials at once (default: by CPUs).")
@click.option("--reduction-factor", type=int, default=2, show_default=True,
              help="ASHA's reduction factor.")
@click.option("--max-failures", type=int, default=0, show_default=True,
              help="Retries of a failed trial (e.g. its node died), from its last checkpoint.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config key in every trial, e.g. --set data.image_size=64.")
@click.option("--address", default=None, help=ADDRESS_HELP)
@click.option("--spec", "spec_file", type=click.Path(path_type=Path), default=None,
              help="Take the options from a search.json or an experiment's raysearch.json; "
                   "options given here override them.")
def submit(space_path: Path | None, name: str | None, sets: tuple[str, ...], address: str | None,
           spec_file: Path | None, **options: Any) -> None:
    """Run a search: TPE proposes configurations, ASHA stops weak trials early.

    \b
    Example: raysearch submit --space search_spaces/quickstart.yaml \\
                 --data ../shared/data/celeba --num-samples 16 --max-epochs 8 --name celeba-1
    On a cluster (see cluster/README.md):
             raysearch submit --address http://HEAD:8265 --results /mnt/nfs/results \\
                 --data /mnt/nfs/celeba-shards --gpus-per-worker 0.5 --max-failures 2 --name c1
    """
    from raysearch.build import validate_names
    from raysearch.search.jobs import is_jobs_address, submit_job
    from raysearch.search.runner import (
        DEFAULT_SPACE,
        SearchSpec,
        check_search,
        prepare_search,
        run_search,
        spec_fields,
    )

    ctx = click.get_current_context()
    given = {k: v for k, v in options.items()
             if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    chosen = spec_fields(spec_file) if spec_file else {**options, "space_path": str(DEFAULT_SPACE)}
    chosen.update(given)
    if space_path is not None:
        chosen["space_path"] = str(space_path)
    if sets:
        chosen["overrides"] = {**chosen.get("overrides", {}), **_parse_sets(sets)}
    chosen["name"] = name or chosen.get("name") or time.strftime("search-%Y%m%d-%H%M%S")
    spec = SearchSpec(**chosen)
    if address and is_jobs_address(address):
        check_search(spec, check=validate_names)  # a bad space fails here, not on the cluster
        job_id = submit_job(spec, address)
        click.echo(f"submitted job {job_id} to {address}: search {spec.name!r}, results in "
                   f"{spec.results}/{spec.name}")
        click.echo(f"follow it with: raysearch status {spec.name} --address {address} --follow")
        return
    prepared = prepare_search(spec, check=validate_names, say=_say)
    best = run_search(prepared, address=address, say=_say)
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
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None, help="Config YAML (default: defaults).")
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
@click.option("--address", default=None,
              help="Jobs API of the cluster (http://HEAD:8265): report NAME's Ray Job as well.")
@click.option("--follow", is_flag=True, help="With --address: stream the job's log until it ends.")
def status(name: str, results: str, address: str | None, follow: bool) -> None:
    """Print the trial table of an experiment (works while it runs).

    \b
    Example: raysearch status celeba-1
             raysearch status c1 --address http://HEAD:8265 --follow
    """
    from raysearch.search.experiment import open_experiment, status_table

    if address is None:
        if follow:
            raise UserError("--follow streams a job's log: give the cluster's --address too")
        click.echo(status_table(open_experiment(name, results)))
        return
    from raysearch.search.jobs import (
        RESULTS_KEY,
        describe_job,
        find_job,
        follow_job,
        is_jobs_address,
        job_client,
    )

    if not is_jobs_address(address):
        raise UserError(f"--address {address!r}: give the Jobs API address, http://HEAD:8265")
    client = job_client(address)
    job = find_job(client, name)
    click.echo(describe_job(job))
    if follow:
        job = follow_job(client, job.submission_id, lambda text: click.echo(text, nl=False))
        click.echo(describe_job(job))
    where = (job.metadata or {}).get(RESULTS_KEY, results)
    try:
        click.echo(status_table(open_experiment(name, where)))
    except UserError:
        click.echo(f"(no trial table: no experiment {where}/{name} on this machine, or not yet)")
    if follow and job.status in ("FAILED", "STOPPED"):
        sys.exit(1)  # a script waiting on --follow learns how the job ended


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
