import torch

from prodmatch.models import GeM, Neck, masked_mean


def test_gem_p1_is_average_pool_and_large_p_tends_to_max():
    x = torch.rand(2, 3, 4, 5) + 0.1
    torch.testing.assert_close(GeM(p=1.0)(x), x.mean(dim=(2, 3)))
    big = GeM(p=60.0)(x)
    assert torch.allclose(big, x.amax(dim=(2, 3)), rtol=0.05)
    gem = GeM(p=3.0)
    assert gem.p.requires_grad
    gem(x).sum().backward()
    assert gem.p.grad is not None and gem.p.grad.abs() > 0
    assert not GeM(p=3.0, trainable=False).p.requires_grad


def test_masked_mean_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(masked_mean(hidden, mask), torch.tensor([[2.0, 3.0]]))


def test_neck_kinds():
    x = torch.randn(4, 10)
    assert Neck(10, 6, "linear_bn")(x).shape == (4, 6)
    assert Neck(10, 6, "linear")(x).shape == (4, 6)
    assert Neck(10, None, "bn")(x).shape == (4, 10)
    torch.testing.assert_close(Neck(10, 10, "none")(x), x)
    try:
        Neck(10, 6, "bn")
    except ValueError as exc:
        assert "keeps the width" in str(exc)
    else:
        raise AssertionError("bn neck with another width must fail")
