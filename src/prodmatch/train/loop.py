"""Training one fold of an image or text encoder with a margin head (the loop both kinds share).

``train_fold(config)`` reads train.csv, holds out ``config.fold``, trains on the other folds and, after
every epoch, embeds the held-out rows and scores them with the competition F1 at the best threshold
(:func:`prodmatch.train.validate.held_out_score`). Outputs under ``<out>/<run_name>/fold<k>/``:

- ``config.yaml``        the resolved config;
- ``model.pt``           the encoder (state dict + spec, self-contained; see :mod:`prodmatch.embed`);
- ``oof_embeddings.npz`` ``posting_id`` / ``embeddings`` (float32, L2-normalised) of the held-out rows;
- ``metrics.json``       cv_f1, best_threshold, epochs, backbone, fold, per-epoch history, train time;
- ``last.ckpt``          the training state after the last finished epoch (``resume=True`` continues).

Every file is written atomically. ``keep: last`` (default) keeps the last epoch's model/OOF, ``keep:
best`` the epoch with the best held-out F1. Each epoch reseeds every RNG from (seed, epoch, rank) and
the sampler shuffles with (seed, epoch), so a resumed run repeats exactly what an uninterrupted one does.

On CUDA: mixed precision (``amp``), channels_last for images, NCCL DDP under torchrun. On CPU: fp32 and
gloo DDP. Under DDP only rank 0 writes; validation embeddings are gathered from all ranks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from prodmatch.data import DataDir, assign_folds, read_folds
from prodmatch.fileio import atomic_open, atomic_path, write_json
from prodmatch.models.build import MetricModel, build_encoder, encoder_payload
from prodmatch.models.heads import create_head
from prodmatch.train import distributed as D
from prodmatch.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, restore, save_checkpoint
from prodmatch.train.config import TrainConfig, save_config
from prodmatch.train.data import (
    ImageRows,
    LengthGroupedBatchSampler,
    TextCollate,
    TokenRows,
    collate_images,
    move_to,
)
from prodmatch.train.optim import create_optimizer, create_scheduler
from prodmatch.train.validate import held_out_score, training_free_score

OUTPUT_FILES = ("model.pt", "oof_embeddings.npz", "metrics.json", "config.yaml", CHECKPOINT_NAME)
StepHook = Callable[[int, int], None]

# config keys that may differ between an interrupted run and its resume without a warning
_RESUME_FREE_KEYS = {"progress", "num_workers", "device", "eval_batch_size", "out", "data_dir"}


class ResumeError(RuntimeError):
    """The fold directory holds a run that cannot be continued (or must not be overwritten)."""


@dataclass
class FoldData:
    """Rows of one fold split. ``classes[c]`` is the label_group of training class id c."""

    train: pd.DataFrame
    val: pd.DataFrame
    train_class: np.ndarray  # int64 class id per training row
    classes: np.ndarray  # label_group per class id
    images_dir: Path

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def split_fold(config: TrainConfig) -> FoldData:
    if not config.data_dir:
        raise ValueError("data_dir is required (--data-dir DIR with train.csv)")
    data_dir = DataDir.of(config.data_dir)
    train = data_dir.read_train()
    if config.folds_file:
        folds = read_folds(config.folds_file, train)
    else:
        folds = assign_folds(train, config.n_folds, config.fold_salt)["fold"].to_numpy()
    held_out = folds == config.fold
    if not held_out.any():
        raise ValueError(f"fold {config.fold} has no rows (folds present: {sorted(set(folds.tolist()))})")
    if held_out.all():
        raise ValueError(f"fold {config.fold} holds every row; nothing left to train on")
    fit = train[~held_out].reset_index(drop=True)
    val = train[held_out].reset_index(drop=True)
    classes, class_ids = np.unique(fit["label_group"].to_numpy(), return_inverse=True)
    return FoldData(fit, val, class_ids.astype(np.int64), classes, data_dir.train_images)


def seed_everything(seed: int) -> None:
    seed = int(seed) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _autocast(config: TrainConfig, device: torch.device):
    if config.amp and device.type == "cuda":
        dtype = torch.bfloat16 if config.amp_dtype == "bfloat16" else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    return contextlib.nullcontext()


def _log(ctx: D.DistContext, message: str) -> None:
    if ctx.is_main:
        from tqdm.auto import tqdm

        tqdm.write(message)


class _Run:
    """State of one train_fold call (kept in one object so the helpers stay small)."""

    def __init__(self, config: TrainConfig, ctx: D.DistContext, step_hook: StepHook | None):
        self.config = config
        self.ctx = ctx
        self.device = ctx.device
        self.step_hook = step_hook
        self.fold_dir = config.fold_dir()
        self.session = uuid.uuid4().hex[:12]
        self.channels_last = config.channels_last and config.model == "image" and self.device.type == "cuda"

    # ---------------------------------------------------------------------------------------- inputs
    def build_inputs(self, data: FoldData, encoder) -> None:
        cfg = self.config
        if cfg.model == "image":
            from prodmatch.models.transforms import eval_transform, train_transform

            spec = encoder.spec
            transform = (train_transform(spec.image_size, spec.mean, spec.std, cfg.augment) if cfg.augment > 0
                         else eval_transform(spec.image_size, spec.mean, spec.std))
            self.train_paths = [data.images_dir / p for p in data.train["image"]]
            self.val_paths = [data.images_dir / p for p in data.val["image"]]
            self.train_set = ImageRows(self.train_paths, data.train_class, transform, seed=cfg.seed)
            self.collate = collate_images
        else:
            train_items = encoder.tokenize(data.train["title"].tolist())
            val_items = encoder.tokenize(data.val["title"].tolist())
            if cfg.freeze_layers and cfg.cache_frozen:
                started = time.time()
                cached = self.prefix_cache(encoder, train_items + val_items)
                train_items, val_items = cached[: len(train_items)], cached[len(train_items):]
                _log(self.ctx, f"frozen-layer cache for {len(cached)} titles ready in {time.time() - started:.0f}s")
            self.train_items, self.val_items = train_items, val_items
            self.train_set = TokenRows(train_items, data.train_class)
            self.collate = TextCollate(encoder.tokenizer.pad_token_id or 0, cfg.token_dropout)

    def prefix_cache(self, encoder, ids: list[list[int]]) -> list[np.ndarray]:
        """Frozen-layer outputs per title: from ``cache_dir`` when an identical cache exists there, else computed
        (and stored there by rank 0 when ``cache_dir`` is set)."""
        cfg = self.config
        path = None
        if cfg.cache_dir:
            digest = hashlib.sha1(json.dumps([cfg.backbone, cfg.pretrained, cfg.freeze_layers, cfg.max_length],
                                             sort_keys=True).encode())
            for seq in ids:
                digest.update(np.asarray(seq, dtype=np.int64).tobytes() + b"|")
            path = Path(cfg.cache_dir) / f"frozen-{digest.hexdigest()[:20]}.npz"
            if path.is_file():
                with np.load(path) as stored:
                    flat, offsets = stored["hidden"], stored["offsets"]
                _log(self.ctx, f"frozen-layer cache read from {path}")
                return [flat[offsets[i]:offsets[i + 1]] for i in range(len(ids))]
        out = self.compute_prefix(encoder, ids, "cache frozen layers")
        if path is not None and self.ctx.is_main:
            offsets = np.r_[0, np.cumsum([len(x) for x in out])].astype(np.int64)
            with atomic_open(path, "wb") as handle:
                np.savez(handle, hidden=np.concatenate(out), offsets=offsets)
        return out

    @torch.inference_mode()
    def compute_prefix(self, encoder, ids: list[list[int]], desc: str) -> list[np.ndarray]:
        from prodmatch.train.data import length_batches

        out: list[np.ndarray | None] = [None] * len(ids)
        collate = TextCollate(encoder.tokenizer.pad_token_id or 0)
        batches = length_batches([len(x) for x in ids], max(self.config.eval_batch_size, 1))
        for positions in self._progress(batches, desc):
            batch = collate([(ids[i], -1, i) for i in positions])
            inputs = {k: v.to(self.device) for k, v in batch["inputs"].items()}
            with _autocast(self.config, self.device):
                hidden = encoder.prefix(inputs["input_ids"], inputs["attention_mask"]).float().cpu().numpy()
            for row, i in enumerate(positions):
                out[i] = hidden[row, : len(ids[i])].astype(np.float16)
        return out  # type: ignore[return-value]

    def _progress(self, iterable, desc: str, total: int | None = None):
        if not (self.config.progress and self.ctx.is_main):
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=False, mininterval=2.0, dynamic_ncols=True)

    # ------------------------------------------------------------------------------------- embedding
    def embed_rows(self, encoder, which: str, positions: np.ndarray) -> np.ndarray:
        """Eval-mode embeddings of train/val rows ``positions`` (no augmentation)."""
        from prodmatch.embed import encode_images, encode_token_items

        if self.config.model == "image":
            paths = self.train_paths if which == "train" else self.val_paths
            return encode_images(encoder, [paths[i] for i in positions], self.config.eval_batch_size, self.device,
                                 tta=self.config.tta and which == "val", num_workers=self.config.num_workers,
                                 amp=self.config.amp, channels_last=self.channels_last)
        items = self.train_items if which == "train" else self.val_items
        return encode_token_items(encoder, [items[i] for i in positions], self.config.eval_batch_size, self.device,
                                  amp=self.config.amp)

    def init_head_from_class_means(self, model: MetricModel, data: FoldData) -> None:
        positions = D.shard(len(data.train), self.ctx)
        emb = torch.from_numpy(self.embed_rows(model.encoder, "train", positions))
        sums = torch.zeros(data.n_classes, emb.shape[1], dtype=torch.float64)
        sums.index_add_(0, torch.from_numpy(data.train_class[positions]), emb.double())
        D.all_reduce_sum(sums, self.ctx)
        model.head.init_from_centres(sums.float().to(model.head.weight.device))

    def validate(self, encoder, data: FoldData) -> tuple[dict, np.ndarray | None]:
        positions = D.shard(len(data.val), self.ctx)
        local = self.embed_rows(encoder, "val", positions)
        embeddings = D.gather_rows(positions, local, len(data.val), self.ctx)
        score = None
        if self.ctx.is_main:
            score = held_out_score(embeddings, data.val["label_group"].to_numpy(), self.config.model,
                                   self.config.neighbours_k)
        return D.broadcast_object(score, self.ctx), embeddings

    # ---------------------------------------------------------------------------------------- outputs
    def write_epoch_outputs(self, encoder, data: FoldData, embeddings: np.ndarray, epoch: int, score: dict) -> None:
        payload = encoder_payload(encoder, fold=self.config.fold, epoch=epoch, config=self.config.as_dict(),
                                  cv_f1=score["f1"], threshold=score["threshold"], n_classes=data.n_classes)
        with atomic_path(self.fold_dir / "model.pt") as tmp:
            torch.save(payload, tmp)
        with atomic_open(self.fold_dir / "oof_embeddings.npz", "wb") as handle:
            np.savez(handle, posting_id=data.val["posting_id"].to_numpy().astype(str),
                     embeddings=embeddings.astype(np.float32))

    def metrics(self, data: FoldData, history: list[dict], n_params: int) -> dict:
        cfg = self.config
        kept = _kept_entry(history, cfg.keep)
        best = max(history, key=lambda h: h["val_f1"])
        return {
            "cv_f1": kept["val_f1"], "best_threshold": kept["val_threshold"], "precision": kept["val_precision"],
            "recall": kept["val_recall"], "epochs": len(history), "kept_epoch": kept["epoch"], "keep": cfg.keep,
            "best_epoch": best["epoch"], "best_epoch_f1": best["val_f1"], "backbone": cfg.backbone,
            "pretrained": cfg.pretrained, "model": cfg.model, "head": cfg.head, "fold": cfg.fold,
            "run_name": cfg.run_name, "n_train": len(data.train), "n_val": len(data.val),
            "n_classes": data.n_classes, "n_trainable_params": n_params, "world_size": self.ctx.world_size,
            "device": str(self.device), "train_time_s": round(sum(h["time_s"] for h in history), 1),
            "torch_threads": torch.get_num_threads(),
            "history": history,
        }


def _kept_entry(history: list[dict], keep: str) -> dict:
    return max(history, key=lambda h: h["val_f1"]) if keep == "best" else history[-1]


def _prepare_fold_dir(run: _Run, resume: bool, overwrite: bool) -> Path | None:
    """The checkpoint to resume from (None: start fresh); refuses to clobber a run by accident."""
    fold_dir = run.fold_dir
    ckpt = fold_dir / CHECKPOINT_NAME
    existing = [name for name in OUTPUT_FILES if (fold_dir / name).exists()]
    if resume and ckpt.is_file():
        return ckpt
    if existing and not overwrite and not resume:
        raise ResumeError(f"{fold_dir} already holds {existing}; pass --resume to continue it or --overwrite to "
                          "start again")
    if existing and run.ctx.is_main:
        for name in existing:
            (fold_dir / name).unlink()
    if resume:
        _log(run.ctx, f"--resume: no {ckpt}, starting from scratch")
    return None


def _check_resume_config(state: dict, config: TrainConfig, ctx: D.DistContext) -> None:
    old = state.get("config", {})
    changed = {k: (old.get(k), v) for k, v in config.as_dict().items()
               if k not in _RESUME_FREE_KEYS and old.get(k) != v}
    if changed:
        msg = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
        if ctx.is_main:
            warnings.warn(f"resuming with a changed config ({msg}); the new values apply from now on", stacklevel=3)


def train_fold(config: TrainConfig, resume: bool = False, overwrite: bool = False,
               step_hook: StepHook | None = None) -> dict | None:
    """Train one fold; returns the metrics dict on rank 0 (None on other ranks).

    ``resume``: continue from ``last.ckpt`` in the fold dir if there is one (finished epochs are kept).
    ``overwrite``: delete a previous run's outputs first. Without either, an existing run is an error.
    ``step_hook(epoch, step)`` runs after every optimiser step (progress reporting, fault injection in tests).
    """
    ctx = D.init_distributed(config.device)
    try:
        return _train(config, ctx, resume, overwrite, step_hook)
    finally:
        D.cleanup(ctx)


def _train(config: TrainConfig, ctx: D.DistContext, resume: bool, overwrite: bool,
           step_hook: StepHook | None) -> dict | None:
    run = _Run(config, ctx, step_hook)
    device = ctx.device
    ckpt_path = _prepare_fold_dir(run, resume, overwrite)
    D.barrier(ctx)
    session_start = time.time()
    seed_everything(config.seed)  # the same initial weights on every rank (class-mean init relies on it)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    data = split_fold(config)
    encoder = build_encoder(config)
    head = create_head(config.head, encoder.embedding_dim, data.n_classes, scale=config.scale, margin=config.margin,
                       warmup_epochs=config.margin_warmup_epochs)
    model = MetricModel(encoder, head)
    if ctx.distributed and config.sync_bn and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    if run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    run.build_inputs(data, encoder)

    sampler = DistributedSampler(run.train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=config.seed, drop_last=False)
    if config.model == "text":
        # titles of similar length batched together: much less padding, same shuffle (see the class doc)
        batch_sampler = LengthGroupedBatchSampler(sampler, [len(x) for x in run.train_items], config.batch_size,
                                                  drop_last=True, seed=config.seed)
        loader = DataLoader(run.train_set, batch_sampler=batch_sampler, num_workers=0, collate_fn=run.collate,
                            pin_memory=device.type == "cuda")
    else:
        batch_sampler = None
        loader = DataLoader(run.train_set, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                            num_workers=config.num_workers, collate_fn=run.collate, pin_memory=device.type == "cuda")
    steps_per_epoch = len(loader)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"{len(run.train_set)} training rows give no full batch of {config.batch_size} per "
                         f"process ({ctx.world_size} processes); lower batch_size")

    optimizer = create_optimizer(model.param_groups(config.lr, config.effective_neck_lr, config.head_lr,
                                                    config.weight_decay), config.optimizer, config.lr)
    total_steps = steps_per_epoch * config.epochs
    scheduler = create_scheduler(optimizer, total_steps, round(config.warmup_epochs * steps_per_epoch),
                                 config.warmup_start, config.min_lr_ratio)
    use_scaler = config.amp and device.type == "cuda" and config.amp_dtype == "float16"
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)

    start_epoch, history, best_metric, baselines = 0, [], None, None
    if ckpt_path is not None:
        state = load_checkpoint(ckpt_path)
        saved_classes = state.get("extra", {}).get("classes")
        if saved_classes is not None and not np.array_equal(np.asarray(saved_classes), data.classes):
            raise ResumeError(f"{ckpt_path} was trained on other label groups (different data or fold); "
                              "use --overwrite to start again")
        _check_resume_config(state, config, ctx)
        restore(state, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler)
        start_epoch, history, best_metric = state["epoch"], list(state["history"]), state["best_metric"]
        baselines = (state.get("extra") or {}).get("baselines")
        _log(ctx, f"resumed {ckpt_path}: {start_epoch}/{config.epochs} epochs done")
    elif config.head_init == "class_mean":
        started = time.time()
        run.init_head_from_class_means(model, data)
        _log(ctx, f"head initialised from class means in {time.time() - started:.0f}s")

    seed_everything(config.seed + ctx.rank)
    run.setup_time = time.time() - session_start
    if ctx.is_main:
        save_config(config, run.fold_dir / "config.yaml")
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    _log(ctx, f"fold {config.fold}: {len(data.train)} train rows / {data.n_classes} groups, {len(data.val)} held out; "
              f"{config.model} {config.backbone} ({n_params / 1e6:.1f}M trainable), device {device}, "
              f"world {ctx.world_size}, {steps_per_epoch} steps/epoch")

    net = model
    if ctx.distributed:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                        else None)
    trainable = [p for p in model.parameters() if p.requires_grad]

    if config.baselines and start_epoch == 0:
        baselines = measure_baselines(run, model, data, ctx)

    for epoch in range(start_epoch, config.epochs):
        started = time.time()
        seed_everything(config.seed + 1000 * (epoch + 1) + ctx.rank)
        sampler.set_epoch(epoch)
        if batch_sampler is not None:
            batch_sampler.set_epoch(epoch)
        run.train_set.set_epoch(epoch)
        net.train()
        loss_sum, loss_count = 0.0, 0
        bar = run._progress(loader, f"epoch {epoch + 1}/{config.epochs}", total=steps_per_epoch)
        for step, batch in enumerate(bar):
            if step >= steps_per_epoch:
                break
            model.head.set_progress(epoch + step / steps_per_epoch)
            inputs = move_to(batch["inputs"], device, run.channels_last)
            labels = batch["labels"].to(device, non_blocking=True)
            with _autocast(config, device):
                logits = net(inputs, labels)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=config.label_smoothing)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch + 1} step {step + 1}; lower the "
                                         "learning rates or check the data")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += float(loss.item())
            loss_count += 1
            if hasattr(bar, "set_postfix") and step % 10 == 0:
                bar.set_postfix(loss=f"{loss_sum / loss_count:.3f}", margin=f"{model.head.margin:.2f}")
            if step_hook is not None:
                step_hook(epoch, step)
        train_loss = D.reduce_mean_scalar(loss_sum / max(loss_count, 1), ctx)
        train_time = time.time() - started

        D.sync_buffers(model, ctx)
        score, embeddings = run.validate(model.encoder, data)
        entry = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), "val_f1": score["f1"],
                 "val_threshold": score["threshold"], "val_precision": score["precision"],
                 "val_recall": score["recall"], "lr": optimizer.param_groups[0]["lr"],
                 "head_lr": optimizer.param_groups[-1]["lr"], "margin": model.head.margin,
                 "train_time_s": round(train_time, 1), "time_s": round(time.time() - started, 1),
                 "session": run.session, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        history.append(entry)
        improved = best_metric is None or score["f1"] > best_metric
        best_metric = score["f1"] if improved else best_metric
        if ctx.is_main:
            if config.keep == "last" or improved:
                run.write_epoch_outputs(model.encoder, data, embeddings, epoch + 1, score)
            save_checkpoint(run.fold_dir / CHECKPOINT_NAME, model=model, optimizer=optimizer, scheduler=scheduler,
                            scaler=scaler, epoch=epoch + 1, best_metric=best_metric, history=history,
                            config=config.as_dict(), extra={"classes": data.classes, "baselines": baselines})
        _log(ctx, f"epoch {epoch + 1}/{config.epochs}: loss {train_loss:.4f}  held-out F1 {score['f1']:.4f} "
                  f"@ {score['threshold']:.2f}  ({entry['time_s']:.0f}s)")
        D.barrier(ctx)

    if not ctx.is_main:
        return None
    metrics = run.metrics(data, history, n_params)
    if baselines:
        metrics["baselines"] = baselines
        comparison = ", ".join(f"{name} {score['f1']:.4f}" for name, score in baselines.items())
        _log(ctx, f"fold {config.fold}: trained {metrics['cv_f1']:.4f} vs {comparison} on the same held-out rows")
    metrics["setup_time_s"] = round(run.setup_time, 1)
    metrics["session_time_s"] = round(time.time() - session_start, 1)
    write_json(run.fold_dir / "metrics.json", metrics)
    _log(ctx, f"fold {config.fold}: cv_f1 {metrics['cv_f1']:.4f} at threshold {metrics['best_threshold']:.2f} "
              f"(epoch {metrics['kept_epoch']}), {metrics['train_time_s']:.0f}s; outputs in {run.fold_dir}")
    return metrics


def measure_baselines(run: "_Run", model, data: FoldData, ctx: D.DistContext) -> dict:
    """Held-out F1 before any training: the encoder as initialised (pretrained backbone, fresh neck) and the
    training-free matcher of the modality (phash / TF-IDF). What the training has to beat."""
    started = time.time()
    untrained, _ = run.validate(model.encoder, data)  # collective under DDP: every rank takes part
    out = {"untrained": untrained}
    if ctx.is_main:
        name, score = training_free_score(data.val, run.config.model)
        out[name] = score
    out = D.broadcast_object(out, ctx)
    _log(ctx, "before training: " + ", ".join(f"{k} F1 {v['f1']:.4f} @ {v['threshold']:.2f}" for k, v in out.items())
              + f"  ({time.time() - started:.0f}s)")
    return out


def remove_run(fold_dir: str | Path) -> None:
    """Delete a fold directory's training outputs (only the files this module writes)."""
    fold_dir = Path(fold_dir)
    for name in OUTPUT_FILES:
        path = fold_dir / name
        if path.is_file():
            path.unlink()
    with contextlib.suppress(OSError):
        fold_dir.rmdir()

