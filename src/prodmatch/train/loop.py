"""Training one fold of an image or text encoder with a margin head: the loop every task and model kind shares.

``train_fold(config)`` splits the data the *task* reads (:mod:`prodmatch.train.task`: the Shopee folds,
``task: shopee``, or visual search, ``task: visual``), trains the task's model with its loss on inputs made
for the model kind (:mod:`prodmatch.train.inputs`), and after every epoch embeds each row set the evaluation
needs -- every rank its shard, gathered on rank 0 -- and scores it with the task's evaluator
(:mod:`prodmatch.train.evaluators`: the competition F1 of the held-out fold, or MAR@10 of held-out queries).
Outputs in the fold folder (:class:`prodmatch.artifacts.weights.FoldFiles`, ``<out>/<run_name>/fold<k>/``,
written by :mod:`prodmatch.train.outputs`):

- ``config.yaml``        the resolved config;
- ``model.pt``           the encoder (state dict + spec, self-contained; see :mod:`prodmatch.models.build`);
- ``oof_embeddings.npz`` held-out rows' embeddings (:mod:`prodmatch.artifacts.oof`);
- ``last.ckpt``          the training state after the last finished epoch (``resume=True`` continues);
- ``metrics.json``       the kept epoch's scores, epochs, backbone, fold, per-epoch history, train time; written
  last, it marks the run complete.

Every file is written atomically. ``keep: last`` (default) keeps the last epoch's model/OOF, ``keep:
best`` the epoch with the best held-out F1. Each epoch reseeds every RNG from (seed, epoch, rank) and
the sampler shuffles with (seed, epoch), so a resumed run repeats exactly what an uninterrupted one does.

On CUDA: mixed precision (``amp``), channels_last for images, NCCL DDP under torchrun. On CPU: fp32 and
gloo DDP. Under DDP only rank 0 writes; validation embeddings are gathered from all ranks.

The steps: :func:`set_up` (data, model, loader, optimiser), :func:`restore_or_start` (resume),
:func:`train_one_epoch`, :func:`validate`, :func:`save_epoch` (outputs + checkpoint), ``outputs.finish``.
"""

from __future__ import annotations

import random
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

from prodmatch.artifacts.weights import FoldFiles
from prodmatch.device import autocast
from prodmatch.errors import ArgumentError, OutputExistsError
from prodmatch.models.build import build_encoder
from prodmatch.models.inputs import move_to
from prodmatch.progress import progress_bar
from prodmatch.train import distributed as dist_utils
from prodmatch.train import outputs
from prodmatch.train.checkpoint import load_checkpoint, restore
from prodmatch.train.config import TrainConfig, save_config
from prodmatch.train.evaluators import Evaluator
from prodmatch.train.inputs import create_inputs
from prodmatch.train.optim import create_optimizer, create_scheduler
from prodmatch.train.score import Score
from prodmatch.train.task import Split, TrainTask
from prodmatch.train.tasks import create_task

StepHook = Callable[[int, int], None]

# consecutive steps with a non-finite loss (on any rank) that are skipped before training stops on every rank
MAX_NONFINITE_IN_A_ROW = 10

# config keys that may differ between an interrupted run and its resume without a warning
_RESUME_FREE_KEYS = {"progress", "num_workers", "device", "eval_batch_size", "out", "data_dir"}


class ResumeError(OutputExistsError):
    """The fold directory holds a run that cannot be continued (or must not be overwritten)."""


def seed_everything(seed: int) -> None:
    seed = int(seed) % (2**31)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


_log = dist_utils.log_main


@dataclass
class TrainingSetup:
    """Everything a fold's epochs work on, built once by :func:`set_up`."""

    config: TrainConfig
    ctx: dist_utils.DistContext
    files: FoldFiles
    data: Split  # the task's split (prodmatch.train.fold_task.FoldData, prodmatch.train.visual_task.VisualData)
    model: torch.nn.Module  # MetricModel, or the task's model (encoder + head + ...)
    inputs: object  # the model kind's inputs (prodmatch.train.inputs)
    sampler: DistributedSampler
    loader: DataLoader
    steps_per_epoch: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    task: TrainTask
    evaluator: Evaluator
    net: torch.nn.Module | None = None  # the model, wrapped in DDP when distributed (set by wrap_for_training)
    nonfinite_in_a_row: int = 0  # steps skipped in a row for a non-finite loss (see skip_nonfinite_step)
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    def wrap_for_training(self) -> None:
        self.net = self.model
        if self.ctx.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)

    @property
    def n_trainable(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


@dataclass
class TrainingState:
    """What changes from epoch to epoch (and a checkpoint restores)."""

    start_epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_metric: float | None = None
    baselines: dict[str, Score] | None = None


def prepare_fold_dir(files: FoldFiles, ctx: dist_utils.DistContext, resume: bool, overwrite: bool) -> Path | None:
    """The checkpoint to resume from (None: start fresh); refuses to clobber a run by accident."""
    existing = files.existing_outputs()
    if resume and files.checkpoint.is_file():
        return files.checkpoint
    if existing and not overwrite and not resume:
        raise ResumeError(f"{files.path} already holds {existing}; pass --resume to continue it or --overwrite to "
                          "start again")
    if existing and ctx.is_main:
        for name in existing:
            (files.path / name).unlink()
    if resume:
        _log(ctx, f"--resume: no {files.checkpoint}, starting from scratch")
    return None


def set_up(config: TrainConfig, ctx: dist_utils.DistContext, task: TrainTask | None = None) -> TrainingSetup:
    """Data split, encoder + head, inputs, loader, optimiser and schedule (the same on every rank)."""
    task = create_task(config) if task is None else task
    device = ctx.device
    seed_everything(config.seed)  # the same initial weights on every rank (class-mean init relies on it)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    data = task.split(config)
    encoder = build_encoder(config)
    model = task.build_model(config, encoder, data)
    if ctx.distributed and config.sync_bn and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    inputs = create_inputs(config, data, encoder, ctx, lambda message: _log(ctx, message))
    if inputs.channels_last:
        model = model.to(memory_format=torch.channels_last)
    sampler = DistributedSampler(inputs.train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=config.seed, drop_last=False)
    loader = inputs.loader(sampler, config.batch_size, pin_memory=device.type == "cuda")
    steps_per_epoch = min(len(loader), config.max_steps_per_epoch or len(loader))
    if steps_per_epoch < 1:
        raise ArgumentError(f"--batch-size {config.batch_size}: {len(inputs.train_set)} training rows give no full "
                            f"batch of {config.batch_size} per process ({ctx.world_size} processes); lower batch_size")
    optimizer = create_optimizer(model.param_groups(config.lr, config.effective_neck_lr, config.head_lr,
                                                    config.weight_decay), config.optimizer, config.lr)
    scheduler = create_scheduler(optimizer, steps_per_epoch * config.epochs,
                                 round(config.warmup_epochs * steps_per_epoch), config.warmup_start, config.min_lr_ratio)
    use_scaler = config.amp and device.type == "cuda" and config.amp_dtype == "float16"
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    return TrainingSetup(config, ctx, config.fold_files(), data, model, inputs, sampler, loader, steps_per_epoch,
                         optimizer, scheduler, scaler, task, task.evaluator(config, data))


def _check_resume_config(state: dict, config: TrainConfig, ctx: dist_utils.DistContext) -> None:
    old = state.get("config", {})
    changed = {k: (old.get(k), v) for k, v in config.as_dict().items()
               if k not in _RESUME_FREE_KEYS and old.get(k) != v}
    if changed:
        msg = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
        if ctx.is_main:
            warnings.warn(f"resuming with a changed config ({msg}); the new values apply from now on", stacklevel=3)


def restore_or_start(setup: TrainingSetup, ckpt_path: Path | None) -> TrainingState:
    """The state of the checkpoint (weights, optimiser, RNGs, history), or a fresh start (class-mean head init)."""
    config, ctx, model = setup.config, setup.ctx, setup.model
    if ckpt_path is None:
        if config.head_init == "class_mean":
            started = time.time()
            init_head_from_class_means(setup)
            _log(ctx, f"head initialised from class means in {time.time() - started:.0f}s")
        return TrainingState()
    saved = load_checkpoint(ckpt_path)
    saved_classes = saved.get("extra", {}).get("classes")
    if saved_classes is not None and not np.array_equal(np.asarray(saved_classes), setup.data.classes):
        raise ResumeError(f"{ckpt_path} was trained on other label groups (different data or fold); "
                          "use --overwrite to start again")
    _check_resume_config(saved, config, ctx)
    restore(saved, model=model, optimizer=setup.optimizer, scheduler=setup.scheduler, scaler=setup.scaler)
    _log(ctx, f"resumed {ckpt_path}: {saved['epoch']}/{config.epochs} epochs done")
    baselines = (saved.get("extra") or {}).get("baselines")
    if baselines is not None:
        baselines = {name: setup.evaluator.score_type.of(figures) for name, figures in baselines.items()}
    return TrainingState(saved["epoch"], list(saved["history"]), saved["best_metric"], baselines)


def init_head_from_class_means(setup: TrainingSetup) -> None:
    data, model = setup.data, setup.model
    positions = dist_utils.shard(len(data.train), setup.ctx)
    emb = torch.from_numpy(setup.inputs.embed_rows(model.encoder, "train", positions))
    sums = torch.zeros(data.n_classes, emb.shape[1], dtype=torch.float64)
    sums.index_add_(0, torch.from_numpy(data.train_class[positions]), emb.double())
    dist_utils.all_reduce_sum(sums, setup.ctx)
    model.head.init_from_centres(sums.float().to(model.head.weight.device))


def train_one_epoch(setup: TrainingSetup, epoch: int, step_hook: StepHook | None = None) -> float:
    """One pass over the training rows; the mean loss over every rank."""
    config, model, device = setup.config, setup.model, setup.device
    seed_everything(config.seed + 1000 * (epoch + 1) + setup.ctx.rank)
    setup.sampler.set_epoch(epoch)
    setup.inputs.set_epoch(epoch)
    setup.net.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    loss_sum, loss_count = 0.0, 0
    bar = progress_bar(setup.loader, f"epoch {epoch + 1}/{config.epochs}", enabled=config.progress and setup.ctx.is_main,
                       total=setup.steps_per_epoch)
    for step, batch in enumerate(bar):
        if step >= setup.steps_per_epoch:
            break
        model.head.set_progress(epoch + step / setup.steps_per_epoch)
        inputs = move_to(batch["inputs"], device, setup.inputs.channels_last)
        labels = batch["labels"].to(device, non_blocking=True)
        with autocast(device, config.amp, config.amp_dtype):
            logits = setup.net(inputs, labels)
        loss = setup.task.loss(logits, labels, config)
        if not dist_utils.all_ranks_agree(bool(torch.isfinite(loss)), setup.ctx):
            skip_nonfinite_step(setup, float(loss.item()), epoch, step)
            continue
        setup.nonfinite_in_a_row = 0
        setup.optimizer.zero_grad(set_to_none=True)
        setup.scaler.scale(loss).backward()
        if config.grad_clip > 0:
            setup.scaler.unscale_(setup.optimizer)
            torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
        setup.scaler.step(setup.optimizer)
        setup.scaler.update()
        setup.scheduler.step()
        loss_sum += float(loss.item())
        loss_count += 1
        if hasattr(bar, "set_postfix") and step % 10 == 0:
            bar.set_postfix(loss=f"{loss_sum / loss_count:.3f}", margin=f"{model.head.margin:.2f}")
        if step_hook is not None:
            step_hook(epoch, step)
    return dist_utils.reduce_mean_scalar(loss_sum / max(loss_count, 1), setup.ctx)


def skip_nonfinite_step(setup: TrainingSetup, loss: float, epoch: int, step: int) -> None:
    """Some rank's loss is NaN/inf: every rank skips this step (no backward, so no gradient all-reduce that
    one rank would wait in forever); after ``MAX_NONFINITE_IN_A_ROW`` such steps every rank stops together."""
    setup.nonfinite_in_a_row += 1
    setup.optimizer.zero_grad(set_to_none=True)
    setup.scheduler.step()  # the schedule follows the step count, as for a step the AMP scaler skips
    where = f"epoch {epoch + 1} step {step + 1}"
    if setup.nonfinite_in_a_row >= MAX_NONFINITE_IN_A_ROW:
        raise FloatingPointError(f"non-finite loss on some rank for {setup.nonfinite_in_a_row} steps in a row "
                                 f"(this rank: {loss}) at {where}; lower the learning rates or check the data")
    _log(setup.ctx, f"non-finite loss on some rank at {where} (this rank: {loss}): step skipped on every rank")


def embed_sets(setup: TrainingSetup, encoder: torch.nn.Module) -> dict[str, np.ndarray | None]:
    """Every row of each set the evaluation reads, embedded by ``encoder``: a collective under DDP (every rank
    embeds its shard), gathered on rank 0 (None on the others)."""
    embedded = {}
    for which in setup.data.eval_sets:
        n = len(setup.data.rows(which))
        positions = dist_utils.shard(n, setup.ctx)
        local = setup.inputs.embed_rows(encoder, which, positions)
        embedded[which] = dist_utils.gather_rows(positions, local, n, setup.ctx)
    return embedded


def validate(setup: TrainingSetup, encoder: torch.nn.Module | None = None) -> tuple[Score, np.ndarray | None]:
    """The held-out score of ``encoder`` (default: the model's, whose extra heads are scored too) on every rank,
    and the held-out rows' embeddings (on rank 0). A collective under DDP; rank 0 scores with the threads of
    its cores, not torchrun's one."""
    model = setup.model if encoder is None else None
    embedded = embed_sets(setup, setup.model.encoder if encoder is None else encoder)
    score = None
    if setup.ctx.is_main:
        with dist_utils.main_rank_threads(setup.ctx):
            score = setup.evaluator.score(embedded, model)
    return dist_utils.broadcast_object(score, setup.ctx), embedded["val"]


def measure_baselines(setup: TrainingSetup) -> dict[str, Score]:
    """Held-out score before any training: the encoder as initialised (pretrained backbone, fresh neck), the
    evaluator's baseline encoders (visual: the backbone alone) and its training-free matchers (Shopee: phash /
    TF-IDF). What the training has to beat. Every encoder is embedded by all ranks together."""
    started = time.time()
    out = {"untrained": validate(setup)[0]}
    for name, encoder in setup.evaluator.baseline_encoders(setup.model).items():
        out[name] = validate(setup, encoder)[0]
    if setup.ctx.is_main:
        out.update(setup.evaluator.training_free())
    out = dist_utils.broadcast_object(out, setup.ctx)
    _log(setup.ctx, "before training: " + ", ".join(f"{k} {v.describe()}" for k, v in out.items())
         + f"  ({time.time() - started:.0f}s)")
    return out


def save_epoch(setup: TrainingSetup, state: TrainingState, epoch: int, score: Score, embeddings: np.ndarray,
               improved: bool) -> None:
    """Rank 0: the kept epoch's model.pt and held-out embeddings, then the resumable checkpoint."""
    if not setup.ctx.is_main:
        return
    if setup.config.keep == "last" or improved:
        outputs.save_kept_epoch(setup, epoch, score, embeddings)
    outputs.save_state(setup, state, epoch)


def run_epoch(setup: TrainingSetup, state: TrainingState, epoch: int, step_hook: StepHook | None) -> None:
    started = time.time()
    train_loss = train_one_epoch(setup, epoch, step_hook)
    train_time = time.time() - started
    dist_utils.sync_buffers(setup.model, setup.ctx)
    score, embeddings = validate(setup)
    optimizer, head = setup.optimizer, setup.model.head
    entry = {"epoch": epoch + 1, "train_loss": round(train_loss, 5), **score.history_entry(),
             "lr": optimizer.param_groups[0]["lr"],
             "head_lr": optimizer.param_groups[-1]["lr"], "margin": head.margin,
             "train_time_s": round(train_time, 1), "time_s": round(time.time() - started, 1),
             "session": setup.session, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    state.history.append(entry)
    improved = state.best_metric is None or score.value > state.best_metric
    state.best_metric = score.value if improved else state.best_metric
    save_epoch(setup, state, epoch + 1, score, embeddings, improved)
    _log(setup.ctx, f"epoch {epoch + 1}/{setup.config.epochs}: loss {train_loss:.4f}  held-out {score.describe()}"
                    f"  ({entry['time_s']:.0f}s)")
    dist_utils.barrier(setup.ctx)


def train_fold(config: TrainConfig, resume: bool = False, overwrite: bool = False,
               step_hook: StepHook | None = None, task: TrainTask | None = None) -> dict | None:
    """Train one fold; returns the metrics dict on rank 0 (None on other ranks).

    ``task``: what is trained and how it is validated (default: ``config.task`` from
    :data:`prodmatch.train.tasks.TASKS`).

    ``resume``: continue from ``last.ckpt`` in the fold dir if there is one (finished epochs are kept).
    ``overwrite``: delete a previous run's outputs first. Without either, an existing run is an error.
    ``step_hook(epoch, step)`` runs after every optimiser step (progress reporting, fault injection in tests).
    """
    ctx = dist_utils.init_distributed(config.device)
    try:
        return _train(config, ctx, resume, overwrite, step_hook, task)
    finally:
        dist_utils.cleanup(ctx)


def _train(config: TrainConfig, ctx: dist_utils.DistContext, resume: bool, overwrite: bool,
           step_hook: StepHook | None, task: TrainTask | None = None) -> dict | None:
    ckpt_path = prepare_fold_dir(config.fold_files(), ctx, resume, overwrite)
    dist_utils.barrier(ctx)
    session_start = time.time()
    setup = set_up(config, ctx, task)
    state = restore_or_start(setup, ckpt_path)
    outputs.reopen(setup, state)
    seed_everything(config.seed + ctx.rank)
    setup_time = time.time() - session_start
    if ctx.is_main:
        save_config(config, setup.files.config)
    _log(ctx, f"fold {config.fold}: {len(setup.data.train)} train rows / {setup.data.n_classes} groups, "
              f"{len(setup.data.val)} held out; {config.model} {config.backbone} "
              f"({setup.n_trainable / 1e6:.1f}M trainable), device {ctx.device}, world {ctx.world_size}, "
              f"{setup.steps_per_epoch} steps/epoch")
    setup.wrap_for_training()
    if config.baselines and state.start_epoch == 0:
        state.baselines = measure_baselines(setup)
    for epoch in range(state.start_epoch, config.epochs):
        run_epoch(setup, state, epoch, step_hook)
    if not ctx.is_main:
        return None
    return outputs.finish(setup, state, setup_time, session_start)
