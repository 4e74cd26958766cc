import math

import pytest
import torch

from prodmatch.train.optim import create_optimizer, create_scheduler, warmup_cosine_factor


def test_warmup_then_cosine_values():
    def f(s):
        return warmup_cosine_factor(s, total_steps=110, warmup_steps=10, warmup_start=0.1, min_ratio=0.0)

    assert f(0) == pytest.approx(0.1)
    assert f(5) == pytest.approx(0.55)
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5)
    assert f(110) == pytest.approx(0.0, abs=1e-12)
    assert f(500) == pytest.approx(0.0, abs=1e-12)

    def g(s):
        return warmup_cosine_factor(s, 100, 0, min_ratio=0.2)

    assert g(0) == 1.0 and g(50) == pytest.approx(0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert g(100) == pytest.approx(0.2)


def test_param_groups_keep_their_own_lrs_through_the_schedule():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt = create_optimizer([{"params": a.parameters(), "lr": 1e-4}, {"params": b.parameters(), "lr": 1e-2}])
    sched = create_scheduler(opt, total_steps=20, warmup_steps=4, warmup_start=0.25, min_ratio=0.01)
    seen = []
    for _ in range(20):
        seen.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    assert seen[0] == pytest.approx([0.25e-4, 0.25e-2])
    assert seen[4] == pytest.approx([1e-4, 1e-2])
    assert all(hi / lo == pytest.approx(100.0) for lo, hi in seen)
    assert seen[-1][0] < 0.05e-4
    with pytest.raises(ValueError):
        create_optimizer([{"params": a.parameters()}], name="lion")
