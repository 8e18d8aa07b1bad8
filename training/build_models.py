"""Regenerate models/ end to end: data -> training -> ONNX export (checked) -> evaluation -> manifests.

    python -m training.build_models [--threads 2] [--work-dir DIR] [--stages train,export,evaluate,package]

Fixed seeds throughout; each stage caches its outputs in the work directory so a later stage
can be re-run alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from training import data, train
from training.nets import UNet3D

log = logging.getLogger("training.build_models")

SEED = 20240601
ROOT = Path(__file__).resolve().parents[1]
CONFIG = {
    "seed": SEED,
    "n_phantom_slabs": 120,
    "seg_steps": 1500,
    "seg_batch": 3,
    "cls_train": 2400,
    "cls_calib": 600,
    "cls_epochs": 12,
    # phase 2: fine-tune on border-attached and large masses, extra kernel noise, new phantoms
    "finetune_phantom_slabs": 60,
    "finetune_steps": 800,
    "finetune_max_lr": 1e-3,
    "finetune_attached_p": 0.75,
    "finetune_big_p": 0.35,
    "finetune_extra_noise_hu": 40.0,
}


def stage_train(work: Path) -> None:
    rng = np.random.default_rng(SEED)
    t0 = time.time()
    phantoms = train.build_bank(rng, CONFIG["n_phantom_slabs"])
    real = data.real_background_slabs()
    seg = train.train_segmentation(phantoms, real, CONFIG["seg_steps"], CONFIG["seg_batch"], SEED)
    torch.save(seg.state_dict(), work / "seg_phase1.pt")
    torch.save(seg.state_dict(), work / "seg.pt")
    log.info("segmentation trained in %.0f s", time.time() - t0)
    crng = np.random.default_rng(SEED + 1)
    x, y = train.classifier_set(crng, phantoms + real, CONFIG["cls_train"] + CONFIG["cls_calib"])
    n = CONFIG["cls_train"]
    cls = train.train_classifier(x[:n], y[:n], CONFIG["cls_epochs"], SEED)
    with torch.no_grad():
        logits = cls(torch.from_numpy(x[n:])).numpy()
    temperature = train.fit_temperature(logits, y[n:])
    torch.save(cls.state_dict(), work / "cls.pt")
    (work / "train_info.json").write_text(
        json.dumps(
            {
                "config": CONFIG,
                "cls_temperature": temperature,
                "train_seconds": time.time() - t0,
            },
            indent=2,
        )
    )
    log.info("classifier trained, temperature %.3f; stage took %.0f s", temperature, time.time() - t0)


def stage_finetune(work: Path) -> None:
    """Phase 2 from seg_phase1.pt: more attached/large masses, noisier kernels, new phantoms."""
    t0 = time.time()
    rng = np.random.default_rng(SEED + 2)
    phantoms = train.build_bank(rng, CONFIG["finetune_phantom_slabs"])
    real = data.real_background_slabs()
    model = UNet3D(base=8)
    model.load_state_dict(torch.load(work / "seg_phase1.pt", weights_only=True))
    seg = train.train_segmentation(
        phantoms,
        real,
        CONFIG["finetune_steps"],
        CONFIG["seg_batch"],
        SEED + 2,
        model=model,
        max_lr=CONFIG["finetune_max_lr"],
        attached_p=CONFIG["finetune_attached_p"],
        big_p=CONFIG["finetune_big_p"],
        extra_noise=CONFIG["finetune_extra_noise_hu"],
    )
    torch.save(seg.state_dict(), work / "seg.pt")
    info = json.loads((work / "train_info.json").read_text())
    info["config"] = CONFIG
    info["finetune_seconds"] = time.time() - t0
    (work / "train_info.json").write_text(json.dumps(info, indent=2))
    log.info("fine-tuning took %.0f s", time.time() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/meddiag_training_work"))
    parser.add_argument("--stages", default="train,finetune,export,evaluate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    stages = {"train": stage_train, "finetune": stage_finetune}
    from training import package

    stages.update(package.STAGES)
    t0 = time.time()
    for name in args.stages.split(","):
        log.info("stage %s", name)
        stages[name](args.work_dir)
    log.info("build_models finished in %.1f min", (time.time() - t0) / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
