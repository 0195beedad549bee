"""Read-only commands stay light: what status, best, plot and export import needs no Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READERS = ("raysearch.cli", "raysearch.search.experiment", "raysearch.report",
           "raysearch.results.export")


def test_reading_an_experiment_imports_no_ray() -> None:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in READERS)
            + "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout.strip()
    assert out == "[]", f"Ray imported by a reader: {out[:300]}"


def test_a_mistyped_key_is_answered_before_torch_or_ray_load(tmp_path: Path) -> None:
    """What makes a user's mistake print at once: the config, the space and the options are
    checked before the registries (torch) and Ray are imported."""
    code = ("import sys\nfrom raysearch.cli import main\n"
            "try:\n    main(['submit', '--set', 'model.depthx=3', '--results', sys.argv[1]])\n"
            "except SystemExit as e:\n    print('exit', e.code)\n"
            "print(sorted(m for m in ('torch', 'ray', 'optuna') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO)
    assert "error: --set model.depthx: unknown config key 'model.depthx'" in proc.stderr
    assert proc.stdout.split() == ["exit", "2", "[]"], proc.stdout


def _error_and_modules(argv: list[str], cwd: Path) -> tuple[str, list[str]]:
    """One CLI call in a fresh interpreter: its error line, and which of torch/Ray/Optuna loaded."""
    code = ("import sys\nfrom raysearch.cli import main\n"
            f"try:\n    main({argv!r})\n"
            "except SystemExit as e:\n    print('exit', e.code)\n"
            "print(' '.join(m for m in ('torch', 'ray', 'optuna') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    assert proc.stdout.startswith("exit 2"), (proc.stdout, proc.stderr[-2000:])
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0], proc.stdout.splitlines()[1:] or [""]


@pytest.mark.parametrize("sets, expect", [
    (["model.generator=nosuch"], "model.generator: unknown generator 'nosuch'; known: coarse_to_fine,"),
    (["mask.kind=nosuch"], "mask.kind: unknown mask kind 'nosuch'; known: brush,"),
    (["loss.vgg=vgg11"], "loss.vgg: unknown VGG layer set 'vgg11'; known: vgg16_relu3_3, vgg19"),
    (["model.rfr_unet.iterationz=3"], "unknown key model.rfr_unet.iterationz"),
    (["model.rfr_unet.attention=maybe"], "model.rfr_unet.attention"),
    (["model.nosuch.depth=3"], "model.nosuch: no generator family of that name"),
    (["mask.kind=folder", "mask.folder=/no/such/masks"], "mask.folder /no/such/masks is not a folder"),
])
def test_a_misnamed_component_is_answered_from_the_index_before_torch(
        tmp_path: Path, sets: list[str], expect: str) -> None:
    """Names that only the registries know (imported with torch) are checked against their
    torch-free index first: the same error line, without the 1.5-3 s of importing torch."""
    argv = ["submit", "--results", str(tmp_path), "--num-samples", "1"]
    for s in sets:
        argv += ["--set", s]
    error, loaded = _error_and_modules(argv, REPO)
    assert expect in error, error
    assert loaded == [""], f"loaded for a misnamed component: {loaded}"


def test_a_damaged_checkpoint_or_wrong_device_is_answered_before_torch(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "checkpoint.pt").write_bytes(b"not a zip archive at all")
    for name in ("face.png", "mask.png"):
        (tmp_path / name).write_bytes(b"")
    common = ["inpaint", str(tmp_path / "ckpt"), str(tmp_path / "face.png"),
              str(tmp_path / "mask.png"), "--out", str(tmp_path / "o.png")]
    error, loaded = _error_and_modules(common, REPO)
    assert "checkpoint.pt: not a readable checkpoint (not the zip archive torch.save" in error, error
    assert loaded == [""], loaded
    error, loaded = _error_and_modules([*common, "--device", "tpu"], REPO)
    assert "device must be auto, cpu or cuda, got 'tpu'" in error and loaded == [""], (error, loaded)


def test_the_registry_index_is_current() -> None:
    """The committed index lists what the registries hold, for the code on disk."""
    from raysearch import registry_index

    raw = registry_index.json.loads(registry_index.INDEX_FILE.read_text())
    fix = "run: python -m raysearch.registry_index (and commit raysearch/registry_index.json)"
    assert raw["fingerprint"] == registry_index.fingerprint(), f"the index is stale; {fix}"
    live = registry_index.live().to_json()
    assert {k: raw[k] for k in live} == live, f"the index differs from the registries; {fix}"


def test_a_stale_or_bypassed_index_falls_back_to_the_registries() -> None:
    """A new or edited registering module changes the fingerprint: the index is then ignored,
    never trusted; and once the registries are loaded in this process (where a family may be
    registered at run time, as tests do) they win."""
    from raysearch import registry_index

    code = ("from raysearch import registry_index as r\n"
            "real = r.fingerprint\n"
            "print(r.indexed() is not None)\n"
            "r._indexed.cache_clear(); r.fingerprint = lambda: 'edited'\n"
            "print(r.indexed() is not None)\n"
            "r._indexed.cache_clear(); r.fingerprint = real\n"
            "import raysearch.models\n"
            "print(r.indexed() is not None)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout.split()
    assert out == ["True", "False", "False"], out
    assert registry_index.names().registries == registry_index.live().registries
