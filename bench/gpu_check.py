#!/usr/bin/env python
"""Run every GPU path of prodmatch on synthetic data and print one table (a few minutes on one GPU).

    python bench/gpu_check.py [--tiny] [--json out.json]

On a usable NVIDIA GPU (the package's own rule, prodmatch.device.check_cuda):

- image training steps/s with AMP: EfficientNet-B3 at 512 px (configs/image-effnet-b3.yaml, random init: nothing
  downloads) and the demo config (configs/image-demo.yaml, EfficientNet-Lite0);
- text training steps/s (configs/text-minilm-cpu.yaml: MiniLM from its PyPI wheel, 2 frozen layers);
- embedding images/s through prodmatch.embed (JPEG decode in DataLoader workers, flip TTA, autocast);
- dense kNN of 70,000 x 512 vectors, k=51, on each GPU backend present (torch, cuML, faiss-gpu) against the CPU
  result: same neighbours up to ties, and the largest score difference (every backend must give float32 scores);
- the peak GPU memory of each (device-wide, sampled every 5 ms: it covers cuML's and faiss' own allocators);
- issue 20's GPU fixes, one row each (bench/gpu_check_kaggle.py): 1 the arch rule and each device's verdict,
  2 the kernel's GPU probe with the GPUs hidden and visible, 3 a bfloat16 run's inference dtype, 4 fold models
  over both GPUs, 8 the exact visual-search index (neighbours, repeat search, peak memory).

``--json`` also records the measured embedding rate (``embedding.forward_passes_per_s``), which
``prodmatch kernel rehearse --gpu-check FILE`` uses for its projected Kaggle time.

Without a usable GPU (or with --tiny) the same checks run at tiny sizes on the CPU, so CI keeps the script
working (tests/test_gpu_check.py). Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # gpu_check_kaggle beside this script
TIES_ATOL = 1e-4  # a neighbour may differ from the CPU's only when its score ties the k-th within this


@dataclass(frozen=True)
class Sizes:
    image_px: int
    demo_px: int
    image_batch: int
    text_batch: int
    warmup_steps: int
    steps: int
    embed_images: int
    knn_rows: int
    knn_dim: int
    knn_k: int
    index_rows: int
    index_queries: int


FULL = Sizes(image_px=512, demo_px=128, image_batch=24, text_batch=64, warmup_steps=3, steps=20, embed_images=768,
             knn_rows=70_000, knn_dim=512, knn_k=51, index_rows=1_100_000, index_queries=10_000)
TINY = Sizes(image_px=32, demo_px=32, image_batch=2, text_batch=4, warmup_steps=1, steps=1, embed_images=8,
             knn_rows=2_000, knn_dim=64, knn_k=11, index_rows=3_000, index_queries=50)


@dataclass
class Row:
    check: str
    size: str
    result: str = ""
    peak_gpu_gb: float | None = None
    ok: bool = True
    note: str = ""


class GpuMemoryPeak:
    """Peak device-wide memory in use above the level at entry (None on the CPU)."""

    def __init__(self, device):
        self.device = device
        self.peak_gb: float | None = None

    def __enter__(self):
        if self.device.type != "cuda":
            return self
        import torch

        torch.cuda.synchronize(self.device)
        self.base = self._used()
        self.peak = self.base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _used(self) -> int:
        import torch

        free, total = torch.cuda.mem_get_info(self.device)
        return total - free

    def _poll(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self._used())
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)
            self.stop.set()
            self.thread.join()
            self.peak = max(self.peak, self._used())
            self.peak_gb = round((self.peak - self.base) / 1024**3, 2)


def synchronize(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def training_inputs(config, encoder, batch: int, device):
    import torch

    if config.model == "image":
        images = torch.randn(batch, 3, config.image_size, config.image_size, device=device)
        return images.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else images
    vocab = int(encoder.transformer.config.vocab_size)
    ids = torch.randint(1000, vocab, (batch, config.max_length), device=device)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def train_steps_per_s(config_path: Path, overrides: dict, batch: int, sizes: Sizes, device) -> float:
    """Optimiser steps per second of the encoder + ArcFace head, as the training loop runs them (autocast in the
    config's dtype, GradScaler for float16, gradient clipping, channels_last on CUDA)."""
    import torch
    import torch.nn.functional as F

    from prodmatch.device import autocast
    from prodmatch.models.build import MetricModel, build_encoder
    from prodmatch.models.heads import create_head
    from prodmatch.train.config import load_config
    from prodmatch.train.optim import create_optimizer

    config = load_config(config_path, batch_size=batch, **overrides)
    encoder = build_encoder(config)
    n_classes = 1000
    model = MetricModel(encoder, create_head(config.head, encoder.embedding_dim, n_classes, scale=config.scale,
                                             margin=config.margin)).to(device)
    if config.model == "image" and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = create_optimizer(model.param_groups(config.lr, config.effective_neck_lr, config.head_lr,
                                                    config.weight_decay), config.optimizer, config.lr)
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda" and config.amp_dtype == "float16")
    inputs = training_inputs(config, encoder, batch, device)
    labels = torch.randint(0, n_classes, (batch,), device=device)
    trainable = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        with autocast(device, config.amp, config.amp_dtype):
            logits = model(inputs, labels)
        loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip or 5.0)
        scaler.step(optimizer)
        scaler.update()

    for _ in range(sizes.warmup_steps):  # cudnn autotuning, allocator, optimiser state
        step()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(sizes.steps):
        step()
    synchronize(device)
    return sizes.steps / (time.perf_counter() - started)


def embed_images_per_s(n_images: int, image_px: int, device) -> float:
    """Images per second through prodmatch.embed.encode_images (EfficientNet-B3, random init, flip TTA)."""
    import cv2
    import torch

    from prodmatch.embed import encode_images
    from prodmatch.models.build import build_encoder
    from prodmatch.train.config import load_config

    config = load_config(REPO / "configs" / "image-effnet-b3.yaml", pretrained="none", image_size=image_px)
    encoder = build_encoder(config).to(device).eval()
    if device.type == "cuda":
        encoder = encoder.to(memory_format=torch.channels_last)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        paths = []
        for i in range(n_images):
            path = Path(tmp) / f"{i}.jpg"
            image = rng.integers(0, 256, size=(image_px, image_px, 3), dtype=np.uint8)
            cv2.imwrite(str(path), cv2.GaussianBlur(image, (9, 9), 3))  # smooth: JPEG sizes like photos
            paths.append(path)
        kwargs = {"batch_size": 64, "device": device, "tta": True, "channels_last": device.type == "cuda"}
        encode_images(encoder, paths[: min(64, n_images // 4)], **kwargs)  # warm-up
        synchronize(device)
        started = time.perf_counter()
        encode_images(encoder, paths, **kwargs)
        synchronize(device)
        return n_images / (time.perf_counter() - started)


def clustered_vectors(n: int, dim: int) -> np.ndarray:
    from prodmatch.search.dense import l2_normalize

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(max(n // 4, 1), dim)).astype(np.float32)
    return l2_normalize(centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, dim)).astype(np.float32))


class FaissGpuBackend:
    """faiss GpuIndexFlatIP (only in this check: prodmatch's own backends are cuML, torch and CPU faiss)."""

    name = "faiss-gpu"

    def search(self, queries: np.ndarray, index: np.ndarray, k: int):
        import faiss

        resources = faiss.StandardGpuResources()
        flat = faiss.GpuIndexFlatIP(resources, index.shape[1])
        flat.add(index)
        scores, indices = flat.search(queries, min(k, len(index)))
        return scores.astype(np.float32), indices.astype(np.int64)


def faiss_gpu_present() -> bool:
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def knn_backends(gpu: bool) -> list:
    from prodmatch.search.dense import CumlBackend, TorchBackend, cuml_works

    if not gpu:
        return [TorchBackend(device="cpu")]
    backends = [TorchBackend(device="cuda")]
    if cuml_works():
        backends.append(CumlBackend())
    if faiss_gpu_present():
        backends.append(FaissGpuBackend())
    return backends


def agreement(reference: tuple[np.ndarray, np.ndarray], found: tuple[np.ndarray, np.ndarray]) -> tuple[bool, str]:
    """Same neighbours as the reference up to ties at the k-th score; float32; score differences small."""
    ref_scores, ref_idx = reference
    scores, idx = found
    if scores.dtype != np.float32:
        return False, f"scores are {scores.dtype}, not float32"
    kth = ref_scores[:, -1:]
    differing_rows = 0
    for row in range(len(ref_idx)):
        extra = np.setdiff1d(idx[row], ref_idx[row])
        if len(extra) == 0:
            continue
        differing_rows += 1
        missing = np.setdiff1d(ref_idx[row], idx[row])
        ref_missing = ref_scores[row][np.isin(ref_idx[row], missing)]
        got_extra = scores[row][np.isin(idx[row], extra)]
        if (np.abs(ref_missing - kth[row]) > TIES_ATOL).any() or (np.abs(got_extra - kth[row]) > TIES_ATOL).any():
            return False, f"row {row}: neighbours differ beyond ties"
    max_diff = float(np.abs(np.sort(scores, axis=1) - np.sort(ref_scores, axis=1)).max())
    ok = max_diff < 1e-4
    return ok, f"{differing_rows} rows differ only by ties; max score diff {max_diff:.1e}"


def knn_rows(sizes: Sizes, device) -> list[Row]:
    from prodmatch.search.dense import cpu_backend

    vectors = clustered_vectors(sizes.knn_rows, sizes.knn_dim)
    size = f"{sizes.knn_rows:,} x {sizes.knn_dim}, k={sizes.knn_k}"
    reference_backend = cpu_backend()
    started = time.perf_counter()
    reference = reference_backend.search(vectors, vectors, sizes.knn_k)
    rows = [Row(f"dense kNN, CPU reference ({reference_backend.name})", size,
                f"{time.perf_counter() - started:.2f} s")]
    for backend in knn_backends(device.type == "cuda"):
        label = f"dense kNN, {backend.name} on {getattr(backend, 'device', 'cuda')}"
        try:
            with GpuMemoryPeak(device) as peak:
                started = time.perf_counter()
                found = backend.search(vectors, vectors, sizes.knn_k)
                seconds = time.perf_counter() - started
            ok, note = agreement(reference, found)
            rows.append(Row(label, size, f"{seconds:.2f} s", peak.peak_gb, ok, note))
        except Exception as exc:  # noqa: BLE001 - report and go on with the other checks
            rows.append(Row(label, size, ok=False, note=f"failed: {exc!r}"))
    return rows


def timed_row(check: str, size: str, unit: str, device, measure) -> Row:
    try:
        with GpuMemoryPeak(device) as peak:
            value = measure()
        return Row(check, size, f"{value:.2f} {unit}", peak.peak_gb)
    except Exception as exc:  # noqa: BLE001
        return Row(check, size, ok=False, note=f"failed: {exc!r}")


def issue20_rows(sizes: Sizes, device) -> list[Row]:
    """Issue 20's fixes (bench/gpu_check_kaggle.py), each check guarded so one failure does not hide the others."""
    import gpu_check_kaggle as k

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-20-") as tmp:
        paths = k.write_jpegs(Path(tmp), max(8, sizes.embed_images // 4), sizes.demo_px)
        checks = [("1 arch rule", lambda: k.arch_rule_rows(Row)),
                  ("2 kernel probe", lambda: k.fail_fast_rows(Row, device)),
                  ("3 inference dtype", lambda: k.dtype_rows(Row, device, paths, sizes.demo_px)),
                  ("4 both GPUs", lambda: k.two_gpu_rows(Row, device, paths, sizes.demo_px)),
                  ("8 exact index", lambda: k.exact_index_rows(Row, device, GpuMemoryPeak, sizes.index_rows, 256,
                                                               sizes.index_queries))]
        for label, check in checks:
            try:
                rows.extend(check())
            except Exception as exc:  # noqa: BLE001 - report and go on with the other checks
                rows.append(Row(label, "-", ok=False, note=f"failed: {exc!r}"))
    return rows


def run_checks(sizes: Sizes, device) -> list[Row]:
    configs = REPO / "configs"
    amp = "AMP float16" if device.type == "cuda" else "fp32 (CPU)"
    b3 = {"pretrained": "none", "image_size": sizes.image_px}
    rows = [
        timed_row(f"image training, EfficientNet-B3, {amp}", f"{sizes.image_px} px, batch {sizes.image_batch}",
                  "steps/s", device, lambda: train_steps_per_s(configs / "image-effnet-b3.yaml", b3,
                                                               sizes.image_batch, sizes, device)),
        timed_row(f"image training, demo config (EfficientNet-Lite0), {amp}",
                  f"{sizes.demo_px} px, batch {sizes.image_batch}", "steps/s", device,
                  lambda: train_steps_per_s(configs / "image-demo.yaml", {"image_size": sizes.demo_px},
                                            sizes.image_batch, sizes, device)),
        timed_row(f"text training, MiniLM (2 frozen layers), {amp}", f"32 tokens, batch {sizes.text_batch}",
                  "steps/s", device, lambda: train_steps_per_s(configs / "text-minilm-cpu.yaml", {},
                                                               sizes.text_batch, sizes, device)),
        timed_row("embedding, EfficientNet-B3 + flip TTA (JPEG files)",
                  f"{sizes.embed_images} images, {sizes.image_px} px", "images/s", device,
                  lambda: embed_images_per_s(sizes.embed_images, sizes.image_px, device)),
    ]
    return rows + knn_rows(sizes, device) + issue20_rows(sizes, device)


def format_table(rows: list[Row]) -> str:
    header = ("check", "size", "result", "peak GPU GB", "ok", "note")
    lines = [[r.check, r.size, r.result, "-" if r.peak_gpu_gb is None else f"{r.peak_gpu_gb:.2f}",
              "yes" if r.ok else "NO", r.note] for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [header, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (the default without a usable GPU)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)

    import torch

    from prodmatch.device import check_cuda, resolve_device

    device = resolve_device("auto")
    sizes = TINY if args.tiny or device.type != "cuda" else FULL
    print(f"device: {device} -- {check_cuda(0).describe()}")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); sizes: {'tiny' if sizes is TINY else 'full'}",
          flush=True)
    started = time.perf_counter()
    rows = run_checks(sizes, device)
    print(format_table(rows))
    print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        record = {"device": str(device), "gpu": check_cuda(0).name or None,
                  "sizes": "tiny" if sizes is TINY else "full", "rows": [r.__dict__ for r in rows]}
        embedding = next((r for r in rows if r.check.startswith("embedding,") and r.ok), None)
        if embedding is not None:  # flip TTA: two forward passes per image
            images_per_s = float(embedding.result.split()[0])
            record["embedding"] = {"images_per_s": images_per_s, "tta": True, "forward_passes_per_s": 2 * images_per_s,
                                   "image_px": sizes.image_px, "gpu": record["gpu"] or str(device)}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
