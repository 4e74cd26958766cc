"""What a training run writes in its fold folder (:class:`prodmatch.artifacts.weights.FoldFiles`), on rank 0:

- after every epoch: the kept epoch's ``model.pt`` (the encoder, the score it was kept with and the task's
  extras) and ``oof_embeddings.npz`` (the held-out rows' embeddings), then ``last.ckpt``;
- at the very end: ``metrics.json``, the run's completion record. It is written last and atomically, and
  removed before a resumed session trains further epochs, so a run killed before it finished has none and
  inference refuses it (:meth:`prodmatch.artifacts.weights.FoldFiles.unfinished`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from prodmatch.artifacts.oof import write_oof_embeddings
from prodmatch.fileio import atomic_path, write_json
from prodmatch.models.build import encoder_payload
from prodmatch.train import distributed as dist_utils
from prodmatch.train.checkpoint import save_checkpoint
from prodmatch.train.score import Score


def save_kept_epoch(setup, epoch: int, score: Score, held_out: np.ndarray) -> None:
    """model.pt and the held-out rows' embeddings of the epoch ``keep`` keeps."""
    config, files, data, model = setup.config, setup.files, setup.data, setup.model
    payload = encoder_payload(model.encoder, fold=config.fold, epoch=epoch, config=config.as_dict(),
                              **score.model_fields(), n_classes=data.n_classes, **setup.task.model_extras(model, data))
    with atomic_path(files.model) as tmp:
        torch.save(payload, tmp)
    write_oof_embeddings(files.oof, data.val[data.id_column].to_numpy(), held_out)


def save_state(setup, state, epoch: int) -> None:
    """The resumable checkpoint after ``epoch`` finished epochs (baselines as plain figures)."""
    baselines = None if state.baselines is None else {k: v.as_dict() for k, v in state.baselines.items()}
    save_checkpoint(setup.files.checkpoint, model=setup.model, optimizer=setup.optimizer, scheduler=setup.scheduler,
                    scaler=setup.scaler, epoch=epoch, best_metric=state.best_metric, history=state.history,
                    config=setup.config.as_dict(), extra={"classes": setup.data.classes, "baselines": baselines})


def reopen(setup, state) -> None:
    """A session that will train epochs: the run is unfinished until :func:`finish` writes metrics.json again."""
    if setup.ctx.is_main and state.start_epoch < setup.config.epochs:
        setup.files.metrics.unlink(missing_ok=True)


def kept_entry(history: list[dict], keep: str, metric: str) -> dict:
    return max(history, key=lambda h: h[metric]) if keep == "best" else history[-1]


def fold_metrics(setup, state) -> dict:
    """metrics.json: the kept epoch's held-out scores, what was trained, and the per-epoch history."""
    cfg, data, history, score_type = setup.config, setup.data, state.history, setup.evaluator.score_type
    metric = score_type.history_key()
    kept, best = kept_entry(history, cfg.keep, metric), max(history, key=lambda h: h[metric])
    return {
        **score_type.from_history(kept).summary(score_type.from_history(best)), "task": setup.task.name,
        "epochs": len(history), "kept_epoch": kept["epoch"], "keep": cfg.keep, "best_epoch": best["epoch"],
        "backbone": cfg.backbone, "pretrained": cfg.pretrained, "model": cfg.model, "head": cfg.head, "fold": cfg.fold,
        "run_name": cfg.run_name, "n_train": len(data.train), "n_val": len(data.val),
        "n_classes": data.n_classes, "n_trainable_params": setup.n_trainable, "world_size": setup.ctx.world_size,
        "device": str(setup.device), "train_time_s": round(sum(h["time_s"] for h in history), 1),
        "torch_threads": torch.get_num_threads(),
        "history": history,
    }


def finish(setup, state, setup_time: float, session_start: float) -> dict:
    """Rank 0: metrics.json (last: it marks the run complete), and the trained model against its baselines on
    the same held-out rows."""
    config, ctx = setup.config, setup.ctx
    metrics = fold_metrics(setup, state)
    if state.baselines:
        metrics["baselines"] = {name: score.as_dict() for name, score in state.baselines.items()}
        metric = setup.evaluator.score_type.history_key()
        kept = kept_entry(state.history, config.keep, metric)
        comparison = ", ".join(f"{name} {score.value:.4f}" for name, score in state.baselines.items())
        dist_utils.log_main(ctx, f"fold {config.fold}: trained {kept[metric]:.4f} vs {comparison} on the same "
                                 "held-out rows")
    metrics["setup_time_s"] = round(setup_time, 1)
    metrics["session_time_s"] = round(time.time() - session_start, 1)
    write_json(setup.files.metrics, metrics)
    dist_utils.log_main(ctx, f"fold {config.fold}: {metrics['headline']} (epoch {metrics['kept_epoch']}), "
                             f"{metrics['train_time_s']:.0f}s; outputs in {setup.files.path}")
    return metrics
