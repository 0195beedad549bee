"""Resume unpickles only what this user's driver signed: tampered or unsigned files are refused."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from raysearch.errors import UserError
from raysearch.search.signing import (
    KEY_ENV,
    VERSIONS_KEPT,
    Signatures,
    load_key,
    needs_signature,
    sign_paths,
    unverified,
)
from raysearch.search.store import SIGNATURES_FILE, RecordStore
from tests.search.survive_helpers import write_space


def test_the_key_is_made_once_private_and_refused_when_others_can_read_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "home" / ".raysearch" / "signing_key"
    monkeypatch.setenv(KEY_ENV, str(path))
    key = load_key()
    assert len(key) >= 32 and (path.stat().st_mode & 0o777) == 0o600
    assert load_key() == key
    path.chmod(0o644)
    with pytest.raises(UserError, match=r"can be read by others \(mode 644\).*chmod 600"):
        load_key()
    path.chmod(0o600)
    path.write_text("short\n")
    with pytest.raises(UserError, match="at least 32"):
        load_key()


@pytest.mark.parametrize("rel, signed", [
    ("tune/tuner.pkl", True),
    ("tune/experiment_state-2026-12-01_10-00-00.json", True),  # JSON with cloudpickle inside
    ("tune/search_gen_state-2026-12-01_10-00-00.json", True),  # a cloudpickle despite its name
    ("tune/searcher-state-2026-12-01_10-00-00.pkl", True),
    ("tune/trial_1/params.pkl", True),
    ("tune/trial_1/error.pkl", True),
    ("tune/trial_1/result.json", False),  # plain JSON Tune never unpickles
    ("tune/trial_1/checkpoint_000000/checkpoint.pt", False),  # torch.load(weights_only=True)
    ("trials.json", False),
])
def test_what_needs_a_signature(rel: str, signed: bool) -> None:
    assert needs_signature(rel) is signed


def _write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_missing_wrong_and_moved_signatures_are_named(tmp_path: Path) -> None:
    key = load_key()
    store = RecordStore(str(tmp_path))
    signatures = Signatures.load(store)
    files = {rel: _write(tmp_path, rel, rel.encode()) for rel in (
        "tune/tuner.pkl", "tune/searcher-state-a.pkl", "tune/trial_1/params.pkl")}
    sign_paths(key, signatures, files.items())
    signatures.save()
    assert unverified(str(tmp_path), store, key) == []

    files["tune/tuner.pkl"].write_bytes(b"tampered")
    shutil.copy(files["tune/trial_1/params.pkl"], tmp_path / "tune/trial_1/error.pkl")  # moved
    _write(tmp_path, "tune/experiment_state-b.json", b"{}")
    _write(tmp_path, "tune/trial_1/result.json", b"{}")  # needs none
    assert unverified(str(tmp_path), store, key) == [
        ("tune/experiment_state-b.json", "no signature"),
        ("tune/trial_1/error.pkl", "no signature"),
        ("tune/tuner.pkl", "signature does not match"),
    ]
    # a key of someone else's signs nothing of ours
    assert len(unverified(str(tmp_path), store, b"k" * 64)) == 5


def test_earlier_versions_stay_valid_while_tunes_upload_lags(tmp_path: Path) -> None:
    key = load_key()
    store = RecordStore(str(tmp_path))
    signatures = Signatures.load(store)
    path = tmp_path / "tune" / "experiment_state-a.json"
    path.parent.mkdir(parents=True)
    for version in range(VERSIONS_KEPT + 1):
        path.write_text(str(version))
        sign_paths(key, signatures, [("tune/experiment_state-a.json", path)])
    signatures.save()
    for version, ok in ((1, True), (VERSIONS_KEPT, True), (0, False)):
        path.write_text(str(version))
        assert (unverified(str(tmp_path), store, key) == []) is ok


class _Marker:
    """A pickle that creates a file when it is loaded: what a tampered tuner.pkl would run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.path}",))


@pytest.fixture(scope="module")
def experiment(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real search of two one-epoch trials, then made resumable: its records say the driver
    died while the second trial ran (Tune's own files are untouched)."""
    from raysearch.build import validate_names
    from raysearch.search.runner import SearchSpec, prepare_search, run_search

    tmp = tmp_path_factory.mktemp("signed")
    space = write_space(tmp, {"optim.lr_g": {"type": "float", "low": 1e-4, "high": 2e-3}})
    spec = SearchSpec(name="signed", space_path=str(space), results=str(tmp / "results"),
                      num_samples=2, max_epochs=1, max_concurrent=2)
    run_search(prepare_search(spec, check=validate_names, say=lambda _: None), say=lambda _: None)
    trials_json = spec.experiment / "trials.json"
    trials = json.loads(trials_json.read_text())
    trials[-1]["state"] = "RUNNING"
    trials_json.write_text(json.dumps(trials))
    return spec.experiment


def _resume(experiment: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    from raysearch.cli import main

    capsys.readouterr()  # only what the resume prints
    try:
        main(["resume", experiment.name, "--results", str(experiment.parent), *flags])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.slow
def test_a_search_signs_everything_a_resume_would_unpickle(experiment: Path) -> None:
    key = load_key()
    signed = set(json.loads((experiment / SIGNATURES_FILE).read_text())["files"])
    on_disk = {p.relative_to(experiment).as_posix() for p in (experiment / "tune").rglob("*")
               if p.is_file()}
    assert {rel for rel in on_disk if needs_signature(rel)} <= signed
    assert any(rel.startswith("tune/searcher-state-") for rel in signed)
    assert any(rel.startswith("tune/experiment_state-") for rel in signed)
    assert "tune/tuner.pkl" in signed
    assert unverified(str(experiment), RecordStore(str(experiment)), key) == []


@pytest.mark.slow
def test_a_tampered_tuner_pkl_is_refused_before_it_is_unpickled(
        experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tuner_pkl = experiment / "tune" / "tuner.pkl"
    genuine = tuner_pkl.read_bytes()
    marker = tmp_path / "pwned"
    tuner_pkl.write_bytes(pickle.dumps(_Marker(marker)))
    try:
        code, out = _resume(experiment, capsys)
    finally:
        tuner_pkl.write_bytes(genuine)
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to resume 'signed'"), out
    assert "tune/tuner.pkl (signature does not match)" in lines[0]
    assert "--trust-unsigned" in lines[0]
    assert not marker.exists(), "the tampered pickle ran"


@pytest.mark.slow
def test_trust_unsigned_resumes_a_genuine_unsigned_folder_which_is_then_signed(
        experiment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (experiment / SIGNATURES_FILE).unlink()  # as written by a raysearch that did not sign
    code, out = _resume(experiment, capsys)
    assert code == 2 and out.count("\n") == 1 and "tune/tuner.pkl (no signature)" in out, out

    code, out = _resume(experiment, capsys, "--trust-unsigned")
    assert code == 0, out
    assert "--trust-unsigned: resuming 'signed' with" in out and "resuming 'signed':" in out
    # what it trusted came back signed by the resumed driver: the next resume needs no flag
    assert unverified(str(experiment), RecordStore(str(experiment)), load_key()) == []
    code, out = _resume(experiment, capsys)
    assert code == 0 and "resuming 'signed':" in out and "trust" not in out, out


@pytest.mark.slow
def test_resuming_from_the_storage_verifies_what_is_there(
        ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--storage: Tune's files live at the storage and the records are mirrored there; a resume
    on another machine downloads the records (signatures.json among them) and checks Tune's
    files where Tune will read them."""
    from raysearch.build import validate_names
    from raysearch.search.runner import SearchSpec, prepare_search, run_search

    space = write_space(tmp_path, {"optim.lr_g": {"type": "float", "low": 1e-4, "high": 2e-3}})
    bucket = tmp_path / "bucket"
    spec = SearchSpec(name="stored", space_path=str(space), results=str(tmp_path / "results"),
                      storage=str(bucket), num_samples=2, max_epochs=1, max_concurrent=2)
    run_search(prepare_search(spec, check=validate_names, say=lambda _: None), say=lambda _: None)
    remote = bucket / "stored"
    assert (remote / SIGNATURES_FILE).exists() and (remote / "tune" / "tuner.pkl").exists()
    trials = json.loads((remote / "trials.json").read_text())
    trials[-1]["state"] = "RUNNING"  # the driver died while it ran
    (remote / "trials.json").write_text(json.dumps(trials))
    shutil.rmtree(spec.experiment)  # another machine: nothing local

    tuner_pkl = remote / "tune" / "tuner.pkl"
    genuine, marker = tuner_pkl.read_bytes(), tmp_path / "pwned"
    tuner_pkl.write_bytes(pickle.dumps(_Marker(marker)))
    code, out = _resume(spec.experiment, capsys, "--storage", str(bucket))
    assert code == 2 and "tune/tuner.pkl (signature does not match)" in out, out
    assert out.count("\n") == 1 and not marker.exists()
    assert (spec.experiment / SIGNATURES_FILE).exists()  # downloaded with the records

    tuner_pkl.write_bytes(genuine)
    code, out = _resume(spec.experiment, capsys, "--storage", str(bucket))
    assert code == 0 and "resuming 'stored':" in out, out
