"""The checks of bench/gpu_check.py that confirm issue 20's GPU fixes on a real GPU (imported by gpu_check.py).

Each returns rows of gpu_check's table; on the CPU (CI, ``--tiny``) they run what they can and say what needs a
GPU, so they stay working:

1. the arch rule: prodmatch.device agrees with torch's own table, and every device torch sees passes it and runs
   a test op (an L4 or a T4 on Kaggle's image);
2. fail fast: with the GPUs hidden (CUDA_VISIBLE_DEVICES=""), the probe the Kaggle kernel runs says none is
   usable (so the kernel stops or falls back instead of embedding on the CPU), and with them visible it lists
   every device;
3. inference dtype: a bfloat16 run embeds in float16 below compute capability 8.0 and keeps bfloat16 from 8.0
   on, and the half-precision embeddings agree with float32 ones;
4. both GPUs: fold models on every usable device give the same embeddings as on one, and the images/s of each;
8. the exact index (visual search): same neighbours as the CPU, repeat-search time, and the peak GPU memory of a
   search above the index itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

KAGGLE_ARCH_LIST = ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]  # Kaggle/docker-python#1546
#: the kernel's GPU probe (kernel.py.tmpl, check_install): prodmatch's verdict on every device
KERNEL_PROBE = ("import json, prodmatch.device as d; "
                "print(json.dumps({'usable': d.usable_cuda_indices(), "
                "'checks': [c.describe() for c in d.cuda_checks()]}))")


def arch_rule_rows(row_type) -> list:
    import torch

    from prodmatch.device import arch_supported, code_runs_on, cuda_checks

    rows = []
    table = getattr(torch.cuda, "DEVICE_REQUIREMENT", None)
    if table is None:
        rows.append(row_type("1 arch rule vs torch's table", "-", "this torch has no DEVICE_REQUIREMENT", note="skipped"))
    else:
        devices = range(50, 130)
        disagreements = [(code, device) for code, allowed in table.items() for device in devices
                         if code_runs_on(code, device) != (device in allowed)]
        rows.append(row_type("1 arch rule vs torch's table", f"{len(table)} code x {len(devices)} device ccs",
                             f"{len(disagreements)} disagreements", ok=not disagreements,
                             note=str(disagreements[:5]) if disagreements else "L4 sm_89 on Kaggle's list: "
                             f"{arch_supported((8, 9), KAGGLE_ARCH_LIST)}, P100 sm_60: "
                             f"{arch_supported((6, 0), KAGGLE_ARCH_LIST)}"))
    for check in cuda_checks():
        if not check.present:
            rows.append(row_type("1 device rule", "-", check.reason, note="needs a GPU to confirm"))
            continue
        rows.append(row_type(f"1 device rule, cuda:{check.index}", check.name,
                             "usable" if check.usable else "refused", ok=check.usable, note=check.describe()))
    return rows


def kernel_probe(hide_gpus: bool) -> dict:
    env = dict(os.environ)
    if hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    done = subprocess.run([sys.executable, "-c", KERNEL_PROBE], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fail_fast_rows(row_type, device) -> list:
    hidden, visible = kernel_probe(hide_gpus=True), kernel_probe(hide_gpus=False)
    rows = [row_type("2 kernel probe, GPUs hidden", "CUDA_VISIBLE_DEVICES=''",
                     f"usable {hidden.get('usable')}", ok=hidden.get("usable") == [],
                     note=hidden.get("error") or "; ".join(hidden.get("checks", []))[:120])]
    expected_any = device.type == "cuda"
    rows.append(row_type("2 kernel probe, GPUs visible", "-", f"usable {visible.get('usable')}",
                         ok="error" not in visible and bool(visible.get("usable")) == expected_any,
                         note=visible.get("error") or "the kernel embeds on these; none: it stops or falls back"))
    return rows


def _tiny_image_encoder(image_px: int, seed: int):
    import torch

    from prodmatch.models.build import build_encoder
    from prodmatch.train.config import load_config

    torch.manual_seed(seed)
    config = load_config(REPO / "configs" / "image-demo.yaml", pretrained="none", image_size=image_px)
    return build_encoder(config).eval()


def write_jpegs(folder: Path, n_images: int, image_px: int) -> list[Path]:
    """Smooth random JPEGs (file sizes like photos) for the embedding checks."""
    import cv2

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n_images):
        path = folder / f"{i}.jpg"
        image = rng.integers(0, 256, size=(image_px, image_px, 3), dtype=np.uint8)
        cv2.imwrite(str(path), cv2.GaussianBlur(image, (9, 9), 3))
        paths.append(path)
    return paths


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def dtype_rows(row_type, device, paths, image_px: int) -> list:
    from prodmatch.device import inference_amp_dtype
    from prodmatch.embed import ImageEncoding, encode_image_files

    encoder = _tiny_image_encoder(image_px, seed=0).to(device)
    chosen = inference_amp_dtype(device, "bfloat16")
    capability = None
    if device.type == "cuda":
        import torch

        capability = torch.cuda.get_device_capability(device)
    expected = "bfloat16" if device.type != "cuda" or tuple(capability) >= (8, 0) else "float16"
    (half,), _ = encode_image_files([ImageEncoding(encoder, amp=True, amp_dtype="bfloat16")], paths, device=device,
                                    num_workers=0)
    (full,), _ = encode_image_files([ImageEncoding(encoder, amp=False)], paths, device=device, num_workers=0)
    worst = _cosine(half, full)
    where = f"{device} sm_{capability[0]}{capability[1]}" if capability else str(device)
    return [row_type("3 bfloat16 run's inference dtype", where, chosen, ok=chosen == expected and worst > 0.99,
                     note=f"expected {expected}; min cosine to float32 {worst:.4f}")]


def two_gpu_rows(row_type, device, paths, image_px: int) -> list:
    from prodmatch.embed import ImageEncoding, encode_image_files, inference_devices

    devices = inference_devices() if device.type == "cuda" else [device]
    spread = [devices[i % len(devices)] for i in range(2)]
    encoders = [_tiny_image_encoder(image_px, seed=s).to(d) for s, d in zip((1, 2), spread)]
    started = time.perf_counter()
    spread_out, _ = encode_image_files([ImageEncoding(e, tta=True, device=d) for e, d in zip(encoders, spread)],
                                       paths, device=spread[0], num_workers=0)
    spread_s = time.perf_counter() - started
    single = [e.to(devices[0]) for e in encoders]
    started = time.perf_counter()
    single_out, _ = encode_image_files([ImageEncoding(e, tta=True, device=devices[0]) for e in single], paths,
                                       device=devices[0], num_workers=0)
    single_s = time.perf_counter() - started
    worst = min(_cosine(a, b) for a, b in zip(spread_out, single_out))
    note = (f"{len(paths) / spread_s:.1f} images/s on {', '.join(map(str, spread))} vs {len(paths) / single_s:.1f} "
            f"on {devices[0]}; min cosine {worst:.4f}")
    if len(devices) < 2:
        note += "; one device: the spread is not exercised here"
    return [row_type("4 two fold models over the GPUs", f"{len(paths)} images", f"{len(devices)} device(s)",
                     ok=worst > 0.999, note=note)]


def exact_index_rows(row_type, device, peak_type, n_rows: int, dim: int, n_queries: int, k: int = 10) -> list:
    """Item 8 through prodmatch.visual.gpu_check: the index uploaded once for all searches, query blocks sized from
    the free memory, torch's peak memory during the repeat searches, neighbours as faiss's."""
    from prodmatch.visual.gpu_check import exact_index_gpu_check

    found = exact_index_gpu_check(n=n_rows, d=dim, n_queries=n_queries, k=k, searches=3, backend="torch")
    index_gb = found["index_bytes"] / 1024**3
    peak_gb = None if found["peak_bytes"] is None else found["peak_bytes"] / 1024**3
    ok = found["uploads"] <= 1 and found["neighbour_recall"] > 0.999
    note = (f"on {found['device']}: {found['uploads']} upload(s) for {found['searches']} searches, blocks of "
            f"{found['block_rows']} rows; neighbour recall vs faiss {found['neighbour_recall']:.4f}; searches "
            + " / ".join(f"{t:.2f}" for t in found["seconds"]) + " s")
    if peak_gb is not None:
        ok = ok and peak_gb < 1.0
        note += f"; peak {peak_gb:.2f} GB above the {index_gb:.2f} GB index (must stay < 1 GB)"
    return [row_type(f"8 exact index (torch on {found['device']})", f"{n_rows:,} x {dim}, {n_queries:,} queries, k={k}",
                     f"{found['seconds'][-1]:.2f} s", peak_gb, ok, note)]
