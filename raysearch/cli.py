"""The ``raysearch`` command: each subcommand parses, validates, calls one library function, prints.

User mistakes (bad files, keys, values, paths) print one line starting with ``error:`` and exit
with code 2; nothing is started and nothing is lost.
"""

from __future__ import annotations

import errno
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from raysearch.config import key_type
from raysearch.errors import UserError
from raysearch.search.spec import DEFAULTS as SPEC
from raysearch.search.spec import MAX_SEED
from raysearch.search.strategy import SAMPLERS, SCHEDULERS
from raysearch.search.trackers import TRACKERS

if TYPE_CHECKING:
    from raysearch.search.objectives import Objective
    from raysearch.search.records import TrialRecord

SEED = click.IntRange(0, MAX_SEED)  # numpy and Optuna refuse others, deep inside a started search
RESULTS_HELP = "Folder that holds experiments (default: results)."
STORAGE_HELP = ("Where Ray Tune writes the experiment: a folder or a URI pyarrow opens (s3://, gs://, "
                "file://); the records are mirrored there from --results (default: --results).")


def _parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """``--set model.depth=3`` pairs, values read as YAML scalars (3, 1e-4, true, [0.1, 0.2])."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: write KEY=VALUE, e.g. --set model.depth=3")
        key = key.strip()
        key_type(key, at=f"--set {key}")
        try:
            out[key] = yaml.safe_load(raw)
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


class _LazyHelp(click.Option):
    """An option whose help is written when --help asks for it: lists that come from registries
    which import torch stay out of every other command's start-up."""

    def __init__(self, *args: Any, help_fn: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_fn = help_fn

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.help_fn()
        return super().get_help_record(ctx)


def _options(*options: Any) -> Any:
    """Several click options as one decorator, shared by the commands that take them."""
    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


# options of every command that runs trials on Ray (submit, refine)
_trial_resources = _options(
    click.option("--workers-per-trial", type=int, default=SPEC.workers_per_trial, show_default=True,
                 help="Ray Train workers per trial (>1: data-parallel TorchTrainer)."),
    click.option("--cpus-per-worker", type=float, default=SPEC.cpus_per_worker, show_default=True,
                 help="CPUs Ray reserves for each worker (and torch threads when not set)."),
    click.option("--gpus-per-worker", type=float, default=SPEC.gpus_per_worker, show_default=True,
                 help="GPUs Ray reserves for each worker; fractions share a GPU between trials."),
    click.option("--max-concurrent", type=int, default=SPEC.max_concurrent,
                 help="Trials at once (default: as many as the CPUs allow)."),
)
_max_failures = click.option(
    "--max-failures", type=int, default=SPEC.max_failures, show_default=True,
    help="Retries of a trial whose process or node died, each from its last checkpoint "
         "(a NaN loss is never retried).")
_storage = click.option("--storage", default=None, help=STORAGE_HELP)


def _metric_help() -> str:
    from raysearch.search.space import metric_modes

    listed = ", ".join(f"{m} ({mode})" for m, mode in metric_modes().items())
    return f"What ASHA and TPE optimise: {listed} (default: the space's metric, else val_psnr)."


@cli.command()
@click.option("--space", "space_path", type=click.Path(path_type=Path), default=None,
              help="Search-space YAML (default: search_spaces/quickstart.yaml).")
@click.option("--data", default=None, help="Face folder, Parquet shards, or 'embedded'.")
@click.option("--num-samples", type=int, default=SPEC.num_samples, show_default=True,
              help="Trials to run.")
@click.option("--max-epochs", type=int, default=SPEC.max_epochs,
              help="Epochs per trial, ASHA's max_t (default: the space's train.epochs).")
@click.option("--name", default=None, help="Experiment name (default: search-DATE-TIME).")
@click.option("--metric", default=SPEC.metric, cls=_LazyHelp, help_fn=_metric_help)
@click.option("--results", default=SPEC.results, help=RESULTS_HELP)
@click.option("--seed", type=SEED, default=SPEC.seed, show_default=True, help="Seed of the sampler.")
@_trial_resources
@click.option("--reduction-factor", type=int, default=SPEC.reduction_factor, show_default=True,
              help="ASHA's reduction factor.")
@click.option("--sampler", type=click.Choice(SAMPLERS.names()), default=SPEC.sampler,
              show_default=True,
              help="How configurations are proposed: " + ", ".join(
                  f"{n} ({SAMPLERS.get(n).label})" for n in SAMPLERS.names()) + ".")
@click.option("--scheduler", type=click.Choice(SCHEDULERS.names()), default=SPEC.scheduler,
              show_default=True,
              help="How weak trials are stopped: " + ", ".join(
                  f"{n} ({SCHEDULERS.get(n).label})" for n in SCHEDULERS.names()) + ".")
@click.option("--startup-trials", type=int, default=SPEC.startup_trials, show_default=True,
              help="TPE: random proposals before it starts modelling the results.")
@click.option("--epoch-budget", type=int, default=SPEC.epoch_budget,
              help="End the search once its trials have trained this many epochs in all "
                   "(default: no budget, run --num-samples trials).")
@click.option("--grace-period", type=int, default=SPEC.grace_period, show_default=True,
              help="Epochs every trial runs before ASHA may stop it.")
@click.option("--time-budget", "time_budget_s", type=float, default=SPEC.time_budget_s,
              metavar="SECONDS",
              help="End the search after this much wall time: running trials stop, their best "
                   "checkpoints count (default: no limit).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config key in every trial, e.g. --set data.image_size=64.")
@click.option("--objectives", default=None, metavar="M:MODE,...",
              help="Several objectives for Optuna's multi-objective TPE, e.g. "
                   "val_psnr:max,val_ssim:max,generator_params:min. ASHA ranks by the first.")
@_max_failures
@click.option("--keep-checkpoints", type=int, default=SPEC.keep_checkpoints, show_default=True,
              help="Checkpoints kept per trial: the best N by the metric, plus the latest.")
@_storage
@click.option("--optuna-storage", default=None, metavar="URL",
              help="Optuna storage: an RDB URL (postgresql://...) or journal:FILE (a journal file, "
                   "for NFS without a database); default: SQLite in the experiment.")
@click.option("--logger", "loggers", multiple=True, default=SPEC.loggers, metavar="NAME",
              help="Also log every trial to an experiment tracker, offline (repeatable): "
                   + ", ".join(TRACKERS.names()) + ". Each needs its extra, e.g. "
                   "pip install 'raysearch[mlflow]'; see the README, \"Experiment trackers\".")
@click.option("--mlflow-uri", default=SPEC.mlflow_uri, metavar="URI",
              help="--logger mlflow's tracking URI (default: sqlite:///<experiment>/mlflow.db).")
@click.option("--warm-start", "warm_start", multiple=True, default=SPEC.warm_start, metavar="NAME",
              help="Start from an earlier search in --results (repeatable): its finished trials "
                   "are told to the sampler first and its best configuration runs first. Its "
                   "space must fit in this one (same types, ranges that hold its ranges, the same "
                   "fixed settings); a parameter it fixed may be searched here.")
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
    Baseline: raysearch submit --sampler random --scheduler none --name random-1
    Widen:    raysearch submit --space wider.yaml --warm-start celeba-1 --name celeba-2
    """
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
    if name is not None:  # --name '' is refused with the other bad names, not replaced
        chosen["name"] = name
    chosen.setdefault("name", time.strftime("search-%Y%m%d-%H%M%S"))
    spec = SearchSpec(**chosen)
    if address:
        from raysearch.search.options import check_address

        check_address(address)  # its form, and that something answers there (a few seconds)
    if address and is_jobs_address(address):
        check_search(spec, check=_check_names)  # a bad space fails here, not on the cluster
        job_id = submit_job(spec, address)
        click.echo(f"submitted job {job_id} to {address}: search {spec.name!r}, results in "
                   f"{spec.results}/{spec.name}")
        click.echo(f"follow it with: raysearch status {spec.name} --address {address} --follow")
        return
    prepared = prepare_search(spec, check=_check_names, say=_say)
    best = run_search(prepared, address=address, say=_say)
    _print_best(spec.name, best, spec.results)


def _check_names(cfg: Any) -> None:
    """The registries' check, imported on first use: a mistyped key is answered before torch."""
    from raysearch.build import validate_names

    validate_names(cfg)


def _print_best(name: str, best: TrialRecord | None, results: str) -> None:
    """The best trial and the commands that look at it (naming --results where it is not the
    default, so that the command can be copied as printed)."""
    from raysearch.search.spec import results_option

    where = results_option(results)
    if best is None:
        raise click.ClickException("no trial finished an epoch; see 'raysearch status "
                                   f"{name}{where}' for the errors")
    b = best.best
    click.echo(f"\nbest trial {best.number} (epoch {best.best_epoch}): "
               f"val_psnr {b.get('val_psnr', float('nan')):.3f}  "
               f"val_ssim {b.get('val_ssim', float('nan')):.4f}")
    for k, v in sorted(best.params_at(best.best_epoch).items()):
        click.echo(f"  {k} = {v}")
    click.echo(f"checkpoint: {best.best_checkpoint}")
    click.echo(f"pull it with: raysearch best {name}{where} --out best-{name}")


@cli.command()
@click.argument("name")
@click.option("--results", default="results", help=RESULTS_HELP)
@click.option("--storage", default=None,
              help="The search's --storage, when its records are not in --results on this machine.")
@click.option("--retry-errored", is_flag=True,
              help="Also resume trials that failed after their retries (never diverged ones).")
@click.option("--trust-unsigned", is_flag=True,
              help="Resume even if Tune's pickles are not signed by your key (another user's "
                   "search, or one from before raysearch signed them): they run as code.")
def resume(name: str, results: str, storage: str | None, retry_errored: bool,
           trust_unsigned: bool) -> None:
    """Continue a search whose driver died: finished trials stay, running ones resume.

    \b
    The Tune experiment, the Optuna study and ASHA's rungs are restored; the total number of
    trials stays --num-samples. Resuming a finished search says so and changes nothing.
    Tune's pickles must carry your signature (~/.raysearch/signing_key), or it refuses.
    Example: raysearch resume celeba-1
    """
    from raysearch.search.resume import resume_search

    outcome = resume_search(name, results, storage, retry_errored, say=_say,
                            trust_unsigned=trust_unsigned)
    if not outcome.already_finished:
        _print_best(name, outcome.best, results)


@cli.command()
@click.argument("source", metavar="NAME")
@click.option("--population", type=int, default=4, show_default=True,
              help="Members trained at once from the winner's configuration (at least 2).")
@click.option("--epochs", type=int, default=None,
              help="Epochs each member trains (default: the winner's train.epochs).")
@click.option("--perturb-interval", type=int, default=1, show_default=True,
              help="Epochs between PBT's decisions: the weakest members take a strong member's "
                   "checkpoint and perturbed values.")
@click.option("--space", "space_path", type=click.Path(path_type=Path), default=None,
              help="A space file whose parameters are the keys to mutate, with their bounds "
                   "(float or int keys of optim.* and loss.*; default: those the search searched).")
@click.option("--pb2", is_flag=True,
              help="PB2 instead of PBT: a Gaussian-process bandit picks the new values.")
@click.option("--synch/--async", "synch", default=True, show_default=True,
              help="synch: every member waits at each perturbation point; async: Ray's default, "
                   "each member is judged when it gets there.")
@click.option("--name", default=None, help="Experiment name (default: NAME-refine).")
@click.option("--results", default=SPEC.results, help=RESULTS_HELP)
@click.option("--seed", type=SEED, default=SPEC.seed, show_default=True,
              help="Added to the winner's train.seed (the members' weights and batches); also "
                   "seeds the members' start values and PBT's choices.")
@_trial_resources
@_max_failures
@click.option("--keep-checkpoints", type=int, default=4, show_default=True,
              help="Checkpoints kept per member (PBT clones the latest ones: keep at least 3).")
@_storage
@click.option("--address", default=None,
              help="Ray cluster: a Jobs API URL (http://HEAD:8265) submits the refinement as a "
                   "Ray Job; auto, HOST:PORT or ray://HEAD:10001 attach this driver to it "
                   "(default: a local Ray on 127.0.0.1).")
@click.option("--job", "job_file", type=click.Path(path_type=Path), default=None, hidden=True,
              help="A refinement's options as a Ray Job carries them (refine.json).")
def refine(source: str, address: str | None, job_file: Path | None, **options: Any) -> None:
    """Refine the best trial of search NAME with Population Based Training.

    \b
    A population trains the winner's configuration (same network, data and masks) from scratch;
    every --perturb-interval epochs Ray Tune's PBT has the weakest members take a strong member's
    checkpoint (weights, optimisers, EMA) and a perturbed copy of its learning rates, loss
    weights and critic steps. The result is an experiment: status, best, plot, export, resume.
    Example: raysearch refine celeba-1 --population 4 --epochs 8 --perturb-interval 2
             raysearch status celeba-1-refine; raysearch plot celeba-1-refine
    """
    from raysearch.search.jobs import REFINE_IN_JOB, is_jobs_address, submit_refine_job
    from raysearch.search.refine import RefineSpec, check_request, prepare_refine, run_refine
    from raysearch.search.spec import spec_fields

    chosen = dict(options)
    if job_file is not None:
        ctx = click.get_current_context()
        chosen = {**spec_fields(job_file, RefineSpec, "--job", "refine"), **{
            k: v for k, v in options.items()
            if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}}
        chosen.pop("source", None)
    spec = RefineSpec(source=source, **chosen)
    if address:
        from raysearch.search.options import check_address

        check_address(address, reach=False)
    if address and is_jobs_address(address):
        check_request(spec)  # what can be checked here; the job checks the source search
        job_id, name = submit_refine_job(spec, address)
        click.echo(f"submitted job {job_id} to {address}: refine {source!r} as {name!r}, "
                   f"results in {spec.results}/{name} ({REFINE_IN_JOB} holds the options)")
        click.echo(f"follow it with: raysearch status {name} --address {address} --follow")
        return
    prepared = prepare_refine(spec, check=_check_names, say=_say)
    best = run_refine(prepared, address=address, say=_say)
    _print_best(prepared.prepared.spec.name, best, prepared.prepared.spec.results)


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
    from raysearch.config import Config, load_config

    cfg = load_config(config_path) if config_path else Config()
    cfg = cfg.with_overrides(_parse_sets(sets), where="--set")
    from raysearch.build import validate_names

    validate_names(cfg)  # a misnamed component is answered before torch loads
    from raysearch.errors import DivergedError
    from raysearch.train import train as train_loop

    try:
        metrics = train_loop(cfg, out, checkpoint_dir=out / "checkpoints", log=_say)
    except DivergedError as e:
        raise UserError(f"training diverged: {e}; lower optim.lr_g / optim.lr_d or the loss "
                        f"weights (the epochs before it are in {out / 'checkpoints'})") from None
    click.echo(f"done: val_psnr {metrics['val_psnr']:.3f} val_ssim {metrics['val_ssim']:.4f}; "
               f"checkpoints in {out / 'checkpoints'}")


@cli.command()
def families() -> None:
    """List the generator families, what each is, and its own knobs with their defaults.

    
    Set a family's knob as model.<family>.<key>, in a config, a space file or --set.
    Example: raysearch families
             raysearch submit --set model.generator=rfr_unet --set model.rfr_unet.iterations=4
    """
    from raysearch.models import GENERATORS

    for name in GENERATORS.names():
        family = GENERATORS.get(name)
        click.echo(f"{name}: {family.summary}")
        for key, default in family.defaults().items():
            click.echo(f"  model.{name}.{key} = {default}")


@cli.command()
@click.argument("name")
@click.option("--results", default="results", help=RESULTS_HELP)
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
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder to copy the checkpoint and its config into.")
@click.option("--trial", "trial_number", type=int, default=None,
              help="Pull this trial's best checkpoint instead of the best trial's.")
@click.option("--pareto", is_flag=True,
              help="List the Pareto set over the search's objectives (full-length trials).")
@click.option("--results", default="results", help=RESULTS_HELP)
@click.option("--force", is_flag=True, help="Write into --out even if it already holds files.")
def best(name: str, out: Path | None, trial_number: int | None, pareto: bool, results: str,
         force: bool) -> None:
    """Copy the best checkpoint and its resolved config to OUT, and check that it loads.

    \b
    Example: raysearch best celeba-1 --out best-celeba
             raysearch best celeba-mo --pareto; raysearch best celeba-mo --trial 3 --out t3
    """
    from raysearch.search.experiment import open_experiment, pareto_set, pull_checkpoint

    exp = open_experiment(name, results)
    if pareto:
        click.echo(_pareto_table(exp.objectives, pareto_set(exp)))
        return
    if out is None:
        raise UserError("give --out FOLDER to copy the checkpoint into (or --pareto to list)")
    trial = pull_checkpoint(exp, out, trial_number, force)
    b = trial.best if trial.best_checkpoint_epoch == trial.best_epoch else \
        next((h for h in trial.history if h["epoch"] == trial.best_checkpoint_epoch), {})
    click.echo(f"trial {trial.number} epoch {trial.best_checkpoint_epoch}: "
               f"val_psnr {b.get('val_psnr', float('nan')):.3f} "
               f"val_ssim {b.get('val_ssim', float('nan')):.4f} -> {out} (loads)")


def _pareto_table(objectives: list[Objective], front: list[TrialRecord]) -> str:
    """The Pareto set at each trial's last epoch (what Optuna ranked), with that epoch's checkpoint."""
    if not front:
        return "no trial has run all its epochs yet"
    head = ["trial", "epoch", *[f"{o.metric} ({o.mode})" for o in objectives], "checkpoint"]
    rows = [head]
    for t in front:
        kept = t.checkpoints.get(str(t.epochs))
        where = kept or f"not kept (best kept: epoch {t.best_checkpoint_epoch}, {t.best_checkpoint})"
        rows.append([str(t.number), str(t.epochs),
                     *[f"{t.last.get(o.metric, float('nan')):.4g}" for o in objectives], where])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


@cli.command()
@click.argument("name")
@click.option("--out", default=None,
              help="Folder or URI for the Parquet files (default: the experiment folder).")
@click.option("--results", default="results", help=RESULTS_HELP)
def export(name: str, out: str | None, results: str) -> None:
    """Write trials.parquet (one row per trial) and history.parquet (one per trial and epoch).

    \b
    Column names hold dots: DuckDB needs them in double quotes, escaped inside bash's.
    Example: raysearch export celeba-1 --out tables/
             duckdb -c "SELECT trial, \\"best.val_psnr\\" FROM 'tables/trials.parquet' ORDER BY 2 DESC"
    """
    from raysearch.results import export_parquet
    from raysearch.search.experiment import open_experiment

    for path in export_parquet(open_experiment(name, results), out):
        click.echo(f"wrote {path}")
@cli.command()
@click.argument("experiments", nargs=-1, required=True)
@click.option("--strategy", "strategies", multiple=True, metavar="SAMPLER+SCHEDULER",
              help="A --sampler and a --scheduler of submit, e.g. tpe+asha, tpe-group+hyperband, "
                   "gp+none; repeat it (default: random+none, tpe+none, random+asha, tpe+asha). "
                   "Samplers: " + ", ".join(SAMPLERS.names()) + "; schedulers: "
                   + ", ".join(SCHEDULERS.names()) + ".")
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True,
              help="Simulated searches per strategy (sampler seeds 0..N-1).")
@click.option("--trials", type=click.IntRange(min=1), default=10, show_default=True,
              help="Budget: the epochs of this many full trials, the same for every strategy.")
@click.option("--max-concurrent", type=click.IntRange(min=1), default=2, show_default=True,
              help="Trials at once.")
@click.option("--startup-trials", type=click.IntRange(min=0), default=SPEC.startup_trials,
              show_default=True, help="TPE: random proposals before it starts modelling the results.")
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
    from raysearch.search.options import finite_number
    from raysearch.search.runner import SearchSpec
    from raysearch.search.simulate import CurveTable, simulate_search
    from raysearch.search.strategy import Strategy

    finite_number("--seconds-per-epoch", seconds_per_epoch, at_least=0, strictly=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one "study created" line per search
    table = CurveTable.from_experiments([Path(e) for e in experiments])
    # each strategy once: "tpe" and "tpe+asha" are one, and would share experiment names
    chosen = list(dict.fromkeys(Strategy.parse(s) for s in strategies)) or list(STRATEGIES)
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


@cli.command()
@click.argument("name")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the PNGs and index.html (default: results/NAME/report).")
@click.option("--results", default="results", help=RESULTS_HELP)
@click.option("--samples/--no-samples", default=True, show_default=True,
              help="Run the best checkpoint on validation faces for the sample grids.")
def plot(name: str, out: Path | None, results: str, samples: bool) -> None:
    """Draw a search's figures (PNG) and one self-contained HTML report (works while it runs).

    \b
    Learning curves, ASHA rungs, fANOVA importance, parallel coordinates, slices, Optuna's
    optimisation history, timeline, contour and EDF plots, the Pareto front (multi-objective
    searches), the best trial's samples per hole-ratio bin, and the trial table.
    Example: raysearch plot celeba-1 --out report-celeba-1   # then open report-celeba-1/index.html
    """
    from raysearch.report import make_report
    from raysearch.search.experiment import open_experiment

    exp = open_experiment(name, results)
    report = make_report(exp, out or exp.path / "report", samples=samples, say=_say)
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"{len(report.figures)} figures; open {report.html}")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--data", default=None,
              help="Faces: a folder, Parquet shards or 'embedded' (default: the checkpoint's data).")
@click.option("--masks", default=None,
              help="Folder of mask images (white = hole, e.g. NVIDIA's), used by hole-ratio bin.")
@click.option("--mask-kind", default=None,
              help="Drawn masks when --masks is not given: rect | brush | center "
                   "(default: the checkpoint's).")
@click.option("--split", type=click.Choice(["val", "all"]), default="val", show_default=True,
              help="val: the validation split training used for this data; all: every image.")
@click.option("--ids", default=None,
              help="Score the faces with these ids instead of a split (numbered files, e.g. "
                   "7501-8000); ids the checkpoint trained on are refused.")
@click.option("--num-images", type=int, default=100, show_default=True, help="Images per bin.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the holes.")
@click.option("--baselines", default="biharmonic,telea", show_default=True,
              help="Classical methods to compare with (comma-separated; '' for none).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for evaluation.csv and evaluation.md (default: CHECKPOINT).")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@click.option("--lpips-weights", default=None, metavar="FILE",
              help="Add LPIPS (VGG) per bin, with torchvision's vgg16-397923af.pth from FILE "
                   "(needs raysearch[lpips]; never downloaded).")
@click.option("--inception-weights", default=None, metavar="FILE",
              help="Add KID and FID per bin, with torch-fidelity's "
                   "weights-inception-2015-12-05-6726825d.pth from FILE (needs raysearch[fid]).")
@click.option("--perceptual", is_flag=True,
              help="Add LPIPS, KID and FID with the files named by $RAYSEARCH_LPIPS_WEIGHTS and "
                   "$RAYSEARCH_INCEPTION_WEIGHTS, the checkpoint's loss.vgg_weights, or torch's hub "
                   "cache.")
def evaluate(checkpoint: Path, data: str | None, masks: str | None, mask_kind: str | None,
             split: str, ids: str | None, num_images: int, seed: int, baselines: str,
             out: Path | None, device: str, lpips_weights: str | None,
             inception_weights: str | None, perceptual: bool) -> None:
    """Score a checkpoint against classical inpainting per hole-ratio bin (the papers' table).

    \b
    PSNR, SSIM, L1 (and every other registered metric) in bins (0.1,0.2], (0.3,0.4],
    (0.5,0.6], for the model, scikit-image's biharmonic and OpenCV's Telea on the same holes.
    A model trained on mask.subset 'train' is scored on the held-out mask files.
    Perceptual metrics (LPIPS, KID, FID) need weights files given here; nothing is downloaded.
    Example: raysearch evaluate best-celeba --data ../shared/data/celeba \\
                 --masks ../shared/data/masks --num-images 200
             raysearch evaluate best-celeba --lpips-weights vgg16-397923af.pth \\
                 --inception-weights weights-inception-2015-12-05-6726825d.pth
    """
    from raysearch.preflight import check_checkpoint_file, check_device

    check_device(device)  # both answered before torch loads
    check_checkpoint_file(checkpoint)
    from raysearch.evaluate import evaluate_checkpoint, markdown_table, write_tables

    names = tuple(b.strip() for b in baselines.split(",") if b.strip())
    ev = evaluate_checkpoint(checkpoint, data=data, masks=masks, mask_kind=mask_kind, split=split,
                             ids=ids, num_images=num_images, seed=seed, baselines=names, device=device,
                             say=_say, warn=lambda msg: click.echo(msg, err=True),
                             lpips_weights=lpips_weights, inception_weights=inception_weights,
                             perceptual=perceptual)
    csv_path, md_path = write_tables(ev, out or checkpoint)
    click.echo("\n" + markdown_table(ev))
    click.echo(f"wrote {csv_path} and {md_path}")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("image", type=click.Path(path_type=Path))
@click.argument("mask", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Output PNG (or folder when IMAGE is a folder, or an existing folder).")
@click.option("--blend", type=click.Choice(["none", "poisson"]), default="none", show_default=True,
              help="poisson: seamless-clone the filled hole into the image.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@click.option("--resize-mask", is_flag=True,
              help="Resize a mask of another size to its image (area averaging, then threshold: "
                   "it stays binary), as evaluate resizes mask files, e.g. NVIDIA's 512x512.")
def inpaint(checkpoint: Path, image: Path, mask: Path, out: Path, blend: str, device: str,
            resize_mask: bool) -> None:
    """Fill the holes of IMAGE (white in MASK) with a checkpoint; known pixels stay exact.

    \b
    IMAGE and MASK may be folders (masks matched by file name) or MASK one file for all images.
    Images of another size than the model's are resized for the model; only hole pixels change.
    Example: raysearch inpaint best-celeba face.png hole.png --out filled.png --blend poisson
             raysearch inpaint best-celeba 007501.jpg masks/02000.png --out f.png --resize-mask
    """
    from raysearch.preflight import check_checkpoint_file, check_device

    check_device(device)  # both answered before torch loads
    check_checkpoint_file(checkpoint)
    from raysearch.inference import inpaint_paths

    written = inpaint_paths(checkpoint, image, mask, out, blend=blend, device=device,
                            resize_mask=resize_mask)
    click.echo(f"wrote {written[0]}" if len(written) == 1 else f"wrote {len(written)} images to {out}")


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
    except click.UsageError as e:  # a mistyped option or value: one line, as every user error
        hint = f" (see: {e.ctx.command_path} --help)" if e.ctx is not None else ""
        click.echo(f"error: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        click.echo(f"error: no space left on the device ({e.filename or 'while writing'}); "
                   "records are written whole or not at all, so once there is room "
                   "'raysearch resume NAME' goes on from the last finished epochs", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
