"""The bad inputs of issue 16, as a table: argv (``{f}`` is a folder of prepared files), and what
the one error line must say. Shared by the tests and ``bench/bench_bad_input.py``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MASKS = str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "masks")


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    expect: tuple[str, ...]  # fragments of the error line
    needs_masks: bool = False


def _submit(*extra: str) -> list[str]:
    return ["submit", "--results", "{f}/results", "--num-samples", "1", "--max-epochs", "1", *extra]


CASES = [
    Case("mask.kind unknown", _submit("--set", "mask.kind=nosuch"), ("unknown mask kind 'nosuch'",)),
    Case("mask.folder missing", _submit("--set", "mask.kind=folder", "--set", "mask.folder={f}/nope"),
         ("is not a folder",)),
    Case("mask.folder empty", _submit("--set", "mask.kind=folder", "--set", "mask.folder={f}/empty"),
         ("no mask with hole ratio",)),
    Case("mask bin holds none", _submit("--set", "mask.kind=folder", "--set", f"mask.folder={MASKS}",
                                        "--set", "mask.ratio=[0.8,0.9]"),
         ("no mask with hole ratio in (0.8, 0.9]",), needs_masks=True),
    Case("storage bogus://", _submit("--storage", "bogus://x/y"), ("unknown scheme 'bogus'",)),
    Case("storage ftp://", _submit("--storage", "ftp://host/x"), ("unknown scheme 'ftp'",)),
    Case("optuna-storage not a URL", _submit("--optuna-storage", "notaurl"),
         ("give journal:FILE or a database URL",)),
    Case("optuna-storage no driver", _submit("--optuna-storage", "postgresql://u@localhost/db"),
         ("driver 'psycopg2' is not installed",)),
    Case("optuna-storage sqlite no folder", _submit("--optuna-storage", "sqlite:////nodir/x.db"),
         ("the folder /nodir does not exist",)),
    Case("reduction-factor 1", _submit("--reduction-factor", "1"), ("at least 2",)),
    Case("reduction-factor 0", _submit("--reduction-factor", "0"), ("at least 2",)),
    Case("data s3 bucket", _submit("--data", "s3://no-such-bucket-raysearch-test"),
         ("data.path s3://no-such-bucket-raysearch-test",)),
    Case("address not an address", _submit("--address", "not an address"), ("give auto, http://",)),
    Case("address ray:// closed", _submit("--address", "ray://127.0.0.1:1"), ("nothing answers",)),
    Case("gpus-per-worker nan", _submit("--gpus-per-worker", "nan"), ("finite number",)),
    Case("gpus-per-worker inf", _submit("--gpus-per-worker", "inf"), ("finite number",)),
    Case("cpus-per-worker nan", _submit("--cpus-per-worker", "nan"), ("finite number",)),
    Case("cpus-per-worker inf", _submit("--cpus-per-worker", "inf"), ("finite number",)),
    Case("time-budget nan", _submit("--time-budget", "nan"), ("finite number",)),
    Case("spec with a bad type", _submit("--spec", "{f}/spec_many.json"),
         ("num_samples must be an integer",)),
    Case("seed -1", _submit("--seed", "-1"), ("'--seed'", "0<=x<=4294967295")),
    Case("seed 2**32 in a spec", _submit("--spec", "{f}/spec_seed.json"),
         ("--seed must be from 0 to 4294967295, got 4294967296",)),
    Case("refine seed -1", ["refine", "done", "--results", "{f}/records", "--seed", "-1"],
         ("'--seed'", "0<=x<=4294967295")),
    Case("empty name", _submit("--name", ""), ("--name '' must be a plain folder name",)),
    Case("refine empty name", ["refine", "done", "--results", "{f}/records", "--name", ""],
         ("--name '' must be a plain folder name",)),
    Case("grace period past the epochs", _submit("--grace-period", "3"),
         ("--grace-period 3 is past the 1 epoch each trial runs", "give --grace-period from 1 to 1",
          "--scheduler none")),
    Case("unknown searched key", _submit("--space", "{f}/unknown_param.yaml"),
         ("unknown_param.yaml: parameters.model.nope: unknown config key 'model.nope'",)),
    Case("unknown fixed key", _submit("--space", "{f}/unknown_fixed.yaml"),
         ("unknown_fixed.yaml: fixed.model.nope: unknown config key 'model.nope'",)),
    Case("--set unknown key", _submit("--set", "model.nope=3"),
         ("--set model.nope: unknown config key 'model.nope'",)),
    Case("space not UTF-8", _submit("--space", "{f}/latin1.yaml"), ("not UTF-8",)),
    Case("config not UTF-8", ["train", "--config", "{f}/latin1.yaml", "--out", "{f}/t"], ("not UTF-8",)),
    Case("integer key under fixed", _submit("--space", "{f}/intkey.yaml"), ("fixed key 3 is not",)),
    Case("mode min for val_psnr", _submit("--space", "{f}/modemin.yaml"), ("mode 'min' does not fit",)),
    Case("log as a string", _submit("--space", "{f}/logstr.yaml"), ("log must be true or false",)),
    Case("when never true", _submit("--space", "{f}/never.yaml"), ("would never be searched",)),
    Case("--set on a searched key", _submit("--set", "optim.lr_g=0.001"), ("searches this key",)),
    Case("sampler gp on a conditional space", _submit("--sampler", "gp", "--space",
                                                      "{f}/conditional.yaml"),
         ("--sampler gp: Optuna's GPSampler needs a space without conditions",
          "parameters.model.base_channels only when", "--sampler tpe-group")),
    Case("sampler tpe-sobol on a conditional space", _submit("--sampler", "tpe-sobol", "--space",
                                                             "{f}/conditional.yaml"),
         ("--sampler tpe-sobol: Optuna's QMCSampler needs a space without conditions",)),
    Case("warm-start from nothing", _submit("--warm-start", "nosuch"),
         ("--warm-start nosuch: no experiment 'nosuch'",)),
    Case("train.epochs 0", ["submit", "--results", "{f}/results", "--set", "train.epochs=0"],
         ("train.epochs must be at least 1",)),
    Case("num-samples abc", ["submit", "--num-samples", "abc"], ("'abc' is not a valid integer",)),
    Case("unknown option", ["submit", "--nosuch"], ("No such option '--nosuch'",)),
    Case("status corrupt raysearch.json", ["status", "broken", "--results", "{f}/records"],
         ("not valid JSON",)),
    Case("best empty raysearch.json", ["best", "empty", "--results", "{f}/records", "--out", "{f}/o"],
         ("not an experiment record",)),
    Case("resume corrupt raysearch.json", ["resume", "broken", "--results", "{f}/records"],
         ("not valid JSON",)),
    Case("status corrupt trials.json", ["status", "badtrials", "--results", "{f}/records"],
         ("not a list of trial records",)),
    Case("best --out not empty", ["best", "ok", "--results", "{f}/records", "--out", "{f}/full"],
         ("is not an empty folder",)),
    Case("refine unknown search", ["refine", "nosuch", "--results", "{f}/records"],
         ("no experiment 'nosuch'", "experiments in")),
    Case("refine no finished trial", ["refine", "ok", "--results", "{f}/records"],
         ("search 'ok' has no finished trial with a checkpoint to refine",)),
    Case("refine population 1", ["refine", "done", "--results", "{f}/records", "--population", "1"],
         ("--population must be at least 2", "got 1")),
    Case("refine categorical parameter", ["refine", "done", "--results", "{f}/records", "--space",
                                          "{f}/refine_cat.yaml"],
         ("parameters.model.skip (categorical) is categorical, not continuous",
          "float or int keys of optim.* and loss.*")),
    Case("refine architecture parameter", ["refine", "done", "--results", "{f}/records", "--space",
                                           "{f}/refine_depth.yaml"],
         ("parameters.model.depth (int)", "changes the network")),
    Case("refine interval past the epochs", ["refine", "done", "--results", "{f}/records",
                                             "--epochs", "3", "--perturb-interval", "3"],
         ("--perturb-interval must be from 1 to 2", "got 3")),
    Case("refine job, relative results", ["refine", "done", "--results", "records", "--address",
                                          "http://127.0.0.1:8265"],
         ("--results 'records' is relative", "the cluster's shared storage")),
    Case("checkpoint random bytes", ["inpaint", "{f}/random", "{f}/face.png", "{f}/mask.png",
                                     "--out", "{f}/o.png"], ("not a readable checkpoint",)),
    Case("checkpoint truncated", ["inpaint", "{f}/truncated", "{f}/face.png", "{f}/mask.png",
                                  "--out", "{f}/o.png"], ("not a readable checkpoint",)),
    Case("checkpoint empty", ["inpaint", "{f}/emptyckpt", "{f}/face.png", "{f}/mask.png",
                              "--out", "{f}/o.png"], ("not a readable checkpoint",)),
    Case("checkpoint without generator", ["inpaint", "{f}/nogen", "{f}/face.png", "{f}/mask.png",
                                          "--out", "{f}/o.png"], ("no 'generator' weights",)),
    Case("checkpoint of another network", ["inpaint", "{f}/mismatch", "{f}/face.png", "{f}/mask.png",
                                           "--out", "{f}/o.png"], ("do not fit the network",)),
    Case("simulate seeds 0", ["simulate", "{f}/records/ok", "--seeds", "0"],
         ("'--seeds': 0 is not in the range x>=1",)),
    Case("simulate seconds-per-epoch nan", ["simulate", "{f}/records/ok", "--seconds-per-epoch",
                                            "nan"], ("--seconds-per-epoch must be a finite number",)),
    Case("refine max-concurrent -1", ["refine", "done", "--results", "{f}/records",
                                      "--max-concurrent", "-1"], ("--max-concurrent must be >= 0",)),
    Case("evaluate unknown mask kind", ["evaluate", "{f}/tiny", "--mask-kind", "nope"],
         ("unknown mask kind 'nope'; known: brush, center",)),
    Case("evaluate mask folder without masks", ["evaluate", "{f}/tiny", "--masks", "{f}/empty"],
         ("/empty: no mask with hole ratio in (0.1, 0.2]",)),
    Case("device tpu", ["inpaint", "{f}/tiny", "{f}/face.png", "{f}/mask.png", "--out", "{f}/o.png",
                        "--device", "tpu"], ("device must be auto, cpu or cuda",)),
    Case("device cuda without a GPU", ["inpaint", "{f}/tiny", "{f}/face.png", "{f}/mask.png",
                                       "--out", "{f}/o.png", "--device", "cuda"], ("no CUDA GPU",)),
]


def write_inputs(f: Path) -> None:
    """Every file the table names, in ``f``."""
    import shutil

    import torch

    from raysearch.cli import main

    (f / "empty").mkdir()
    (f / "spec_many.json").write_text(json.dumps({"num_samples": "many"}))
    (f / "spec_seed.json").write_text(json.dumps({"seed": 2**32}))
    (f / "latin1.yaml").write_bytes("description: caf\xe9\n".encode("latin-1"))
    space = "parameters:\n  optim.lr_g: {type: float, low: 1.0e-4, high: 1.0e-3}\n"
    (f / "intkey.yaml").write_text("fixed:\n  3: 4\n" + space)
    (f / "unknown_fixed.yaml").write_text("fixed:\n  model.nope: 4\n" + space)
    (f / "unknown_param.yaml").write_text(space + "  model.nope: {type: int, low: 1, high: 2}\n")
    (f / "modemin.yaml").write_text("mode: min\n" + space)
    (f / "logstr.yaml").write_text(space.replace("high: 1.0e-3}", "high: 1.0e-3, log: 'false'}"))
    (f / "conditional.yaml").write_text(
        "parameters:\n  model.skip: {type: categorical, choices: [true, false]}\n"
        "  model.base_channels: {type: int, low: 8, high: 16, when: {model.skip: [false]}}\n")
    (f / "never.yaml").write_text("parameters:\n  model.skip: {type: categorical, choices: [true]}\n"
                                  "  model.base_channels: {type: int, low: 8, high: 16, "
                                  "when: {model.skip: [false]}}\n")
    records = f / "records"
    for name, spec, trials in (("broken", "{not json", None), ("empty", "{}", None),
                               ("badtrials", json.dumps({"spec": {"name": "badtrials",
                                                                  "num_samples": 1},
                                                         "metric": "val_psnr", "mode": "max"}),
                                "{}"),
                               ("ok", json.dumps({"spec": {"name": "ok", "num_samples": 1},
                                                  "metric": "val_psnr", "mode": "max"}), "[]")):
        (records / name).mkdir(parents=True)
        (records / name / "raysearch.json").write_text(spec)
        if trials is not None:
            (records / name / "trials.json").write_text(trials)
    _write_finished_search(records / "done")
    (f / "refine_cat.yaml").write_text("parameters:\n  model.skip: {type: categorical, "
                                       "choices: [true, false]}\n")
    (f / "refine_depth.yaml").write_text("parameters:\n  model.depth: {type: int, low: 2, high: 3}\n")
    (f / "full").mkdir()
    (f / "full" / "keep.txt").write_text("mine")
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(f / "face.png")
    hole = np.zeros((32, 32), np.uint8)
    hole[8:20, 8:20] = 255
    Image.fromarray(hole).save(f / "mask.png")
    main(["train", "--config", str(Path(__file__).parents[1] / "tiny_train.yaml"), "--out",
          str(f / "run")])
    good = f / "run" / "checkpoints" / "epoch_0001"
    shutil.copytree(good, f / "tiny")
    for name in ("random", "truncated", "emptyckpt", "nogen", "mismatch"):
        shutil.copytree(good, f / name)
    weights = (good / "checkpoint.pt").read_bytes()
    (f / "random" / "checkpoint.pt").write_bytes(os.urandom(4096))
    (f / "truncated" / "checkpoint.pt").write_bytes(weights[: len(weights) // 2])
    (f / "emptyckpt" / "checkpoint.pt").write_bytes(b"")
    torch.save({"epoch": 1}, f / "nogen" / "checkpoint.pt")
    cfg = (f / "mismatch" / "config.yaml").read_text()
    (f / "mismatch" / "config.yaml").write_text(cfg.replace("base_channels: 8", "base_channels: 16"))


def _write_finished_search(exp: Path) -> None:
    """The records of a search with one finished trial (a checkpoint path that need not exist:
    a refused refine never reads it)."""
    from raysearch.config import Config
    from raysearch.search.records import TrialRecord, TrialState

    exp.mkdir(parents=True)
    space = {"parameters": {"optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-3}}}
    (exp / "raysearch.json").write_text(json.dumps({
        "spec": {"name": exp.name, "num_samples": 1}, "metric": "val_psnr", "mode": "max",
        "space": space, "base_config": Config().to_dict()}))
    trial = TrialRecord("t0", 0, params={"optim.lr_g": 5e-4}, state=TrialState.TERMINATED,
                        epochs=2, best={"val_psnr": 20.0}, last={"val_psnr": 20.0}, best_epoch=2,
                        best_checkpoint=str(exp / "tune" / "trial_t0" / "checkpoint_000001"))
    (exp / "trials.json").write_text(json.dumps([trial.to_json()]))


def run_case(case: Case, f: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run one case through the real entry point; (exit code, everything printed)."""
    import torch

    from raysearch.cli import main

    if case.name == "device cuda without a GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    capsys.readouterr()
    code = 0
    try:
        main([a.replace("{f}", str(f)) for a in case.argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.err + out.out
