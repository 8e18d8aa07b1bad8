"""Registry: built-in + user models, sha256 verification, refusal of tampered models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inference_fixtures import write_model

from meddiag_desktop.errors import ModelIntegrityError
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.inference.session import SessionOptions, choose_providers

REPO = Path(__file__).resolve().parents[2]


def test_lists_builtin_and_user_models(model_root: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    write_model(user, "my-seg", "segmentation")
    entries = {e.model_id: e for e in ModelRegistry(model_root, user).list_models()}
    assert set(entries) == {"seg-fixture", "cls-fixture", "my-seg"}
    assert entries["my-seg"].source == "user"
    assert entries["seg-fixture"].source == "builtin"
    assert all(e.error is None for e in entries.values())


def test_verified_session_is_cached(model_root: Path) -> None:
    reg = ModelRegistry(model_root)
    opts = SessionOptions(threads=1)
    assert reg.session("seg-fixture", opts) is reg.session("seg-fixture", opts)
    assert reg.session("seg-fixture", opts).providers[-1] == "CPUExecutionProvider"


def test_tampered_onnx_is_refused(model_root: Path) -> None:
    onnx_path = model_root / "seg-fixture" / "model.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[-1] ^= 0x01
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"model\.onnx' has sha256 .* refused"):
        ModelRegistry(model_root).session("seg-fixture")


def test_tampered_model_card_is_refused(model_root: Path) -> None:
    card = model_root / "cls-fixture" / "MODEL_CARD.md"
    card.write_text(card.read_text() + "Sensitivity 100 %!\n")
    with pytest.raises(ModelIntegrityError, match=r"MODEL_CARD\.md"):
        ModelRegistry(model_root).verify("cls-fixture")


def test_missing_and_unlisted_files_are_refused(model_root: Path) -> None:
    (model_root / "seg-fixture" / "extra.onnx.data").write_bytes(b"\0" * 16)
    with pytest.raises(ModelIntegrityError, match="not listed in its manifest"):
        ModelRegistry(model_root).verify("seg-fixture")
    (model_root / "cls-fixture" / "model.onnx").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        ModelRegistry(model_root).verify("cls-fixture")


def test_invalid_manifest_is_listed_with_reason_and_refused(model_root: Path) -> None:
    path = model_root / "seg-fixture" / "manifest.json"
    m = json.loads(path.read_text())
    m["task"] = "detection"
    path.write_text(json.dumps(m))
    reg = ModelRegistry(model_root)
    entry = reg.entry("seg-fixture")
    assert entry.manifest is None and entry.error is not None and "task" in entry.error
    with pytest.raises(ModelIntegrityError, match="task"):
        reg.session("seg-fixture")


def test_user_model_cannot_shadow_builtin(model_root: Path, tmp_path: Path) -> None:
    user = tmp_path / "user"
    write_model(user, "seg-fixture", "segmentation")
    entries = [e for e in ModelRegistry(model_root, user).list_models() if e.source == "user"]
    assert entries[0].manifest is None and "same id as a built-in" in (entries[0].error or "")


def test_unknown_model_message_lists_installed(model_root: Path) -> None:
    with pytest.raises(ModelIntegrityError, match="installed: cls-fixture, seg-fixture"):
        ModelRegistry(model_root).verify("nope")


def test_cpu_is_always_last_provider() -> None:
    assert choose_providers(None)[-1] == "CPUExecutionProvider"
    assert choose_providers(("NoSuchProvider",)) == ["CPUExecutionProvider"]


@pytest.mark.parametrize("model_id", ["lung-nodule-seg", "lung-lesion-cls"])
def test_shipped_models_verify_and_a_flipped_byte_is_refused(model_id: str, tmp_path: Path) -> None:
    src = REPO / "models" / model_id
    if not (src / "manifest.json").is_file():
        pytest.skip(f"{src} not built yet (python -m training.build_models)")
    assert ModelRegistry(REPO / "models").verify(model_id).manifest.id == model_id
    copy = tmp_path / model_id
    copy.mkdir()
    for f in src.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="refused"):
        ModelRegistry(tmp_path).session(model_id)
