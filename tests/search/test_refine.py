"""``raysearch refine``: Population Based Training of a search's winner on a real local Ray.

One small refinement (population 2, 4 epochs, a decision after every epoch) runs as a driver
process, is SIGKILLed mid-way and resumed; the tests then read what it left: the population is
whole, every exploit trains with the member's own mutated learning rate (read from the
optimiser, in the recorded metric and in the saved optimiser state), and the readers work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from raysearch.build import validate_names
from raysearch.config import Config
from raysearch.search.experiment import open_experiment, status_table
from raysearch.search.runner import SearchSpec, prepare_search, run_search
from tests.search.survive_helpers import (
    cli,
    kill_driver,
    read_records,
    snapshot_with_checkpoints,
    wait_for,
    write_space,
)

POPULATION, EPOCHS = 2, 4  # 4: the kill window (both members mid-way) lasts 2-3 epochs


@pytest.fixture(scope="module")
def source(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished search to refine: two trials of one epoch (the results folder)."""
    folder = tmp_path_factory.mktemp("refine")
    space = write_space(folder, {
        "optim.lr_g": {"type": "float", "low": 1.0e-4, "high": 3.0e-3, "log": True},
        "loss.l1_hole": {"type": "float", "low": 1.0, "high": 10.0},
        "model.skip": {"type": "categorical", "choices": [True, False]},  # kept at the winner's
    }, **{"data.num_images": 96, "data.num_val": 16, "train.batch_size": 16,
          "model.base_channels": 8})
    spec = SearchSpec(name="src", space_path=str(space), results=str(folder / "results"),
                      num_samples=2, max_epochs=1, scheduler="none", max_concurrent=2)
    run_search(prepare_search(spec, check=validate_names, say=lambda _m: None), say=lambda _m: None)
    return folder / "results"


def _mid_way(trials_json: Path, epochs: int) -> bool:
    trials = read_records(trials_json) or []
    return len(trials) == POPULATION and all(1 <= t["epochs"] < epochs for t in trials)


def _ready_to_kill(trials_json: Path, epochs: int = EPOCHS) -> bool:
    """Both members have trained an epoch and neither has finished, also after Tune's next
    snapshot (which then holds their checkpoints)."""
    if not _mid_way(trials_json, epochs) or not snapshot_with_checkpoints(trials_json.parent):
        return False
    return _mid_way(trials_json, epochs)


def _kill_and_resume(source: Path, name: str, epochs: int, *options: str) -> dict[str, Any]:
    """``raysearch refine src --name NAME OPTIONS`` as a driver process, SIGKILLed once both
    members are mid-way, then ``resume``d to the end; what the records held at the kill, the
    resume's log and the experiment."""
    logs = source.parent
    args = ["--results", str(source)]
    driver = cli("refine", "src", "--name", name, "--population", str(POPULATION),
                 "--epochs", str(epochs), *options, *args, log=logs / f"{name}.log")
    trials_json = source / name / "trials.json"
    try:
        wait_for("both members mid-way", lambda: _ready_to_kill(trials_json, epochs),
                 timeout=300, proc=driver)
    finally:
        stragglers = kill_driver(driver)
    assert stragglers is not None
    at_kill = read_records(trials_json)
    resumed = cli("resume", name, *args, log=logs / f"{name}-resume.log")
    try:
        assert resumed.wait(timeout=420) == 0, (logs / f"{name}-resume.log").read_text()[-3000:]
    finally:
        if resumed.poll() is None:
            kill_driver(resumed)
    return {"at_kill": at_kill, "log": (logs / f"{name}-resume.log").read_text(),
            "exp": open_experiment(name, source)}


def _assert_whole_after_resume(run: dict[str, Any], epochs: int) -> None:
    """The same members, all of them, each trained to the end with every epoch recorded once;
    the members that were mid-way at the kill went on from a checkpoint, not from scratch."""
    exp, at_kill = run["exp"], run["at_kill"]
    assert f"resuming '{exp.name}'" in run["log"]
    assert sorted(t.trial_id for t in exp.trials) == sorted(t["trial_id"] for t in at_kill)
    assert len(exp.trials) == POPULATION, status_table(exp)
    for t in exp.trials:
        assert t.state == "TERMINATED" and t.epochs == epochs, status_table(exp)
        done = [h["epoch"] for h in t.history]
        assert done == sorted(set(done)) and done[-1] == epochs, t.history
        assert [s["epoch"] for s in t.schedule] == done
        # an epoch is missing only where the member took a checkpoint saved after the epoch
        # before it: after the restart the members can be an epoch apart, and a member an epoch
        # behind that takes the leader's checkpoint goes on from the leader's epoch
        took = {e["epoch"]: e["from_epoch"] for e in t.exploits}
        for before, after in zip([0, *done[:-1]], done, strict=True):
            assert after == before + 1 or took.get(after) == after - 1, (t.history, t.exploits)
    killed_at = {t["trial_id"]: t["epochs"] for t in at_kill}
    mid_way = [t for t in exp.trials if killed_at[t.trial_id] < epochs]
    assert mid_way, f"every member had finished when the driver was killed: {killed_at}"
    for t in mid_way:
        after = [h["resumed_from_epoch"] for h in t.history][killed_at[t.trial_id]:]
        assert after and min(after) >= 1, t.history


@pytest.fixture(scope="module")
def refined(source: Path) -> dict[str, Any]:
    """``raysearch refine src`` as a driver process, SIGKILLed mid-way, then ``resume``d."""
    return _kill_and_resume(source, "src-refine", EPOCHS, "--perturb-interval", "1")


@pytest.mark.slow
def test_a_killed_driver_resumes_without_losing_the_population(refined: dict[str, Any]) -> None:
    _assert_whole_after_resume(refined, EPOCHS)
    # the experiment says what it refined, and PBT acted
    exp = refined["exp"]
    assert exp.refine is not None and exp.refine["source"] == "src"
    assert sorted(exp.refine["mutated"]) == ["loss.l1_hole", "optim.lr_g"]  # not model.skip
    assert sum(len(t.exploits) for t in exp.trials) >= 1, status_table(exp)


@pytest.mark.slow
def test_an_exploiting_member_steps_with_its_own_mutated_learning_rate(
        refined: dict[str, Any]) -> None:
    """After taking a donor's checkpoint (its Adam moments hold the donor's lr), the member's
    optimiser must step with the member's new lr: ray#29060's trap. Read from the optimiser."""
    exp = refined["exp"]
    by_id = {t.trial_id: t for t in exp.trials}
    differed = 0
    for t in exp.trials:
        for e in t.exploits:
            mine = e["params"]["optim.lr_g"]
            donor = by_id[e["from_trial_id"]]
            donor_lr = next(h["optim_lr_g"] for h in donor.history if h["epoch"] == e["from_epoch"])
            entry = next(h for h in t.history if h["epoch"] == e["epoch"])
            assert entry["optim_lr_g"] == pytest.approx(mine, rel=1e-12), (e, entry)
            assert entry["resumed_from_epoch"] == e["from_epoch"]
            if str(e["epoch"]) not in t.checkpoints:  # exploited again the next epoch: Tune
                continue                              # dropped this epoch's checkpoint
            saved = torch.load(Path(t.checkpoints[str(e["epoch"])]) / "checkpoint.pt",
                               weights_only=True)
            assert saved["opt_g"]["param_groups"][0]["lr"] == pytest.approx(mine, rel=1e-12)
            # the donor's optimiser state came along: Adam counted the donor's steps too (a
            # member's own checkpoint of the epoch it was exploited at is dropped by Tune)
            given = torch.load(Path(donor.checkpoints[str(e["from_epoch"])]) / "checkpoint.pt",
                               weights_only=True)
            per_epoch = int(given["opt_g"]["state"][0]["step"]) // e["from_epoch"]
            assert int(saved["opt_g"]["state"][0]["step"]) == e["epoch"] * per_epoch
            differed += mine != pytest.approx(donor_lr, rel=1e-9)
    assert differed, "no exploit whose checkpoint is kept changed the learning rate: the test " \
                     "would not see the trap"


@pytest.mark.slow
def test_the_readers_work_on_a_refinement(refined: dict[str, Any], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from raysearch.cli import main

    exp = refined["exp"]
    results = str(exp.path.parent)
    main(["status", "src-refine", "--results", results])
    out = capsys.readouterr().out
    assert "PBT refinement of src trial" in out and "exploits:" in out and "took trial" in out
    main(["plot", "src-refine", "--results", results, "--out", str(tmp_path / "report"),
          "--no-samples"])
    assert (tmp_path / "report" / "lineage.png").stat().st_size > 0
    assert (tmp_path / "report" / "schedules.png").stat().st_size > 0
    assert not (tmp_path / "report" / "asha_rungs.png").exists()  # PBT stops no member
    main(["best", "src-refine", "--results", results, "--out", str(tmp_path / "best")])
    best = exp.best()
    assert best is not None
    cfg = yaml.safe_load((tmp_path / "best" / "config.yaml").read_text())
    # the pulled checkpoint's config holds the values the member had at that epoch
    at = best.params_at(best.best_checkpoint_epoch)
    assert cfg["optim"]["lr_g"] == pytest.approx(at["optim.lr_g"])
    main(["export", "src-refine", "--results", results, "--out", str(tmp_path / "tables")])
    assert (tmp_path / "tables" / "history.parquet").exists()


@pytest.mark.slow
def test_multi_worker_members_are_cloned_with_their_optimiser_and_own_learning_rate(
        source: Path) -> None:
    """--workers-per-trial 2: each member is a TorchTrainer run whose checkpoints reach Tune as
    Tune checkpoints, so PBT clones them; the exploiting member restarts from the donor's (a Train
    run of its own) with the donor's optimiser state and its own mutated learning rate."""
    from raysearch.search.refine import RefineSpec, prepare_refine, run_refine

    rs = RefineSpec(source="src", name="src-ddp", results=str(source), population=2, epochs=2,
                    perturb_interval=1, workers_per_trial=2, cpus_per_worker=0.5)
    run_refine(prepare_refine(rs, check=validate_names, say=lambda _m: None), say=lambda _m: None)
    exp = open_experiment("src-ddp", source)
    assert len(exp.trials) == 2, status_table(exp)
    assert all(t.state == "TERMINATED" and t.epochs == 2 for t in exp.trials), status_table(exp)
    exploits = [(t, e) for t in exp.trials for e in t.exploits]
    assert len(exploits) == 1, status_table(exp)  # synch PBT: the lower of two takes the upper's
    t, e = exploits[0]
    donor = next(d for d in exp.trials if d.trial_id == e["from_trial_id"])
    assert (e["epoch"], e["from_epoch"]) == (2, 1) and donor is not t
    entry = next(h for h in t.history if h["epoch"] == 2)
    assert entry["optim_lr_g"] == pytest.approx(e["params"]["optim.lr_g"], rel=1e-12)
    assert entry["resumed_from_epoch"] == 1
    assert len(t.worker_nodes) == 2  # two ranks trained it
    # the checkpoints PBT cloned are Tune's (in the trial folders), not Train's run folders
    trial_dirs = {Path(m.checkpoints["2"]).parent for m in exp.trials}
    assert {d.parent for d in trial_dirs} == {exp.path / "tune"} and len(trial_dirs) == 2
    saved = torch.load(Path(t.checkpoints["2"]) / "checkpoint.pt", weights_only=True)
    given = torch.load(Path(donor.checkpoints["1"]) / "checkpoint.pt", weights_only=True)
    assert saved["opt_g"]["param_groups"][0]["lr"] == pytest.approx(e["params"]["optim.lr_g"])
    assert given["opt_g"]["param_groups"][0]["lr"] != pytest.approx(e["params"]["optim.lr_g"])
    # the donor's Adam moments came along: the steps of both epochs are counted
    assert int(saved["opt_g"]["state"][0]["step"]) == 2 * int(given["opt_g"]["state"][0]["step"])
    # each start was a Train run of its own (both members started twice: PBT paused both at
    # epoch 1), and a start removed the member's earlier run: one run per member is left
    runs = sorted(d.name for d in (exp.path / "tune" / "train_runs").iterdir() if d.is_dir())
    assert len(runs) == 2 and {r.rsplit("-", 1)[0] for r in runs} == {
        f"tune-{m.trial_id}" for m in exp.trials}, runs


@pytest.mark.slow
def test_a_killed_driver_resumes_a_multi_worker_population(source: Path) -> None:
    """--workers-per-trial 2, the driver SIGKILLed mid-way (its Ray with it), then resumed: each
    member's next Train run starts from the Tune checkpoint the snapshot holds, the population
    ends whole, and one Train run per member is left (a start removes the member's earlier ones,
    the killed session's included)."""
    epochs = 3  # the kill window holds PBT's pause at epoch 2 and the members' restarts (~25 s)
    run = _kill_and_resume(source, "src-ddp-kill", epochs, "--perturb-interval", "2",
                           "--workers-per-trial", "2", "--cpus-per-worker", "0.5")
    _assert_whole_after_resume(run, epochs)
    exp = run["exp"]
    assert exp.search["workers_per_trial"] == 2 and exp.search["checkpoints_to_tune"]
    assert all(len(t.worker_nodes) == 2 for t in exp.trials), status_table(exp)
    runs = sorted(d.name for d in (exp.path / "tune" / "train_runs").iterdir() if d.is_dir())
    assert len(runs) == POPULATION and {r.rsplit("-", 1)[0] for r in runs} == {
        f"tune-{m.trial_id}" for m in exp.trials}, runs


def test_a_restored_optimiser_takes_this_runs_learning_rate_and_keeps_its_state(
        tmp_path: Path) -> None:
    """No Ray: a run resumed from a checkpoint saved with another lr steps with its own, while
    Adam's moments, the critic and the EMA carry on from the checkpoint (what PBT's exploit
    hands over)."""
    from raysearch.train import train

    cfg = Config().with_overrides({
        "data.path": "embedded", "data.image_size": 32, "data.num_images": 48, "data.num_val": 8,
        "model.depth": 2, "model.base_channels": 8, "model.critic_channels": 8,
        "train.batch_size": 16, "train.sample_grid": False, "train.epochs": 1, "train.ema": 0.9,
        "optim.lr_g": 1e-3, "optim.lr_d": 1e-3}, where="test")
    first = train(cfg, tmp_path / "a", checkpoint_dir=tmp_path / "a" / "ckpt")
    assert first["optim_lr_g"] == 1e-3
    saved = torch.load(tmp_path / "a" / "ckpt" / "epoch_0001" / "checkpoint.pt", weights_only=True)
    mine = cfg.with_overrides({"train.epochs": 2, "optim.lr_g": 3e-4, "optim.lr_d": 5e-4},
                              where="test")
    second = train(mine, tmp_path / "b", checkpoint_dir=tmp_path / "b" / "ckpt",
                   resume_from=tmp_path / "a" / "ckpt" / "epoch_0001")
    assert (second["epoch"], second["optim_lr_g"], second["optim_lr_d"]) == (2, 3e-4, 5e-4)
    after = torch.load(tmp_path / "b" / "ckpt" / "epoch_0002" / "checkpoint.pt", weights_only=True)
    assert after["opt_g"]["param_groups"][0]["lr"] == 3e-4
    assert after["opt_d"]["param_groups"][0]["lr"] == 5e-4
    steps = int(saved["opt_g"]["state"][0]["step"])
    assert int(after["opt_g"]["state"][0]["step"]) == 2 * steps  # the moments went on
    assert after["ema_updates"] == 2 * saved["ema_updates"]  # and so did the EMA


def test_members_start_at_the_winner_and_around_it() -> None:
    from raysearch.search.refine import initial_members
    from raysearch.search.space import Param

    params = [Param("optim.lr_g", "float", 1e-4, 1e-3, log=True), Param("optim.critic_steps", "int", 1, 5)]
    members = initial_members(params, {"optim.lr_g": 8e-4, "optim.critic_steps": 2}, 4, seed=0)
    assert members[0] == {"optim.lr_g": 8e-4, "optim.critic_steps": 2}
    assert members == initial_members(params, {"optim.lr_g": 8e-4, "optim.critic_steps": 2}, 4, 0)
    for m in members[1:]:
        assert 4e-4 <= m["optim.lr_g"] <= 1e-3 and isinstance(m["optim.critic_steps"], int)
        assert 1 <= m["optim.critic_steps"] <= 4
    assert len({m["optim.lr_g"] for m in members}) == 4


@pytest.mark.parametrize("scheduler", ["pbt", "pb2"])
def test_the_scheduler_is_ray_tunes_over_the_mutated_bounds(scheduler: str) -> None:
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.schedulers.pb2 import PB2

    from raysearch.search.refine import RefinePrepared, make_scheduler
    from raysearch.search.runner import Prepared
    from raysearch.search.space import Param, SearchSpace

    params = [Param("optim.lr_g", "float", 1e-4, 1e-3, log=True), Param("loss.l1_hole", "float", 1.0, 9.0)]
    prepared = Prepared(SearchSpec(name="x"), SearchSpace("x", params=params), Config(), "val_psnr",
                        "max", None)
    chosen = make_scheduler(RefinePrepared(prepared, {
        "scheduler": scheduler, "perturbation_interval": 2, "quantile_fraction": 0.25,
        "synch": False, "resample_probability": 0.25}, params))
    assert isinstance(chosen, PB2 if scheduler == "pb2" else PopulationBasedTraining)
    assert (chosen._perturbation_interval, chosen._synch, chosen._metric) == (2, False, "val_psnr")
    if scheduler == "pb2":
        assert chosen._hyperparam_bounds == {"optim.lr_g": [1e-4, 1e-3], "loss.l1_hole": [1.0, 9.0]}
    else:
        mutations = chosen._hyperparam_mutations
        assert (mutations["optim.lr_g"].lower, mutations["optim.lr_g"].upper) == (1e-4, 1e-3)
    # explore's x0.8 / x1.2 is put back inside the bounds
    assert chosen._custom_explore_fn({"optim.lr_g": 2e-3, "loss.l1_hole": 0.5}) == \
        {"optim.lr_g": 1e-3, "loss.l1_hole": 1.0}
