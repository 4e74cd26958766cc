import math

import pytest
import torch
import torch.nn.functional as F

from prodmatch.models import ArcFaceHead, CurricularFaceHead, MetricModel, create_head
from prodmatch.models.heads import HEADS


def test_factory_creates_each_head_and_rejects_unknown():
    assert isinstance(create_head("arcface", 8, 5), ArcFaceHead)
    assert isinstance(create_head("CurricularFace", 8, 5), CurricularFaceHead)
    assert set(HEADS) == {"arcface", "curricularface"}
    with pytest.raises(ValueError, match="unknown head"):
        create_head("cosface", 8, 5)


@pytest.mark.parametrize("name", ["arcface", "curricularface"])
def test_margin_warmup_ramps_linearly_from_zero(name):
    head = create_head(name, 8, 5, margin=0.4, warmup_epochs=2.0)
    assert head.margin == 0.0
    assert head.margin_at(0.0) == 0.0
    assert head.margin_at(0.5) == pytest.approx(0.1)
    assert head.margin_at(1.0) == pytest.approx(0.2)
    assert head.margin_at(2.0) == pytest.approx(0.4)
    assert head.margin_at(7.3) == pytest.approx(0.4)
    assert head.set_progress(1.5) == pytest.approx(0.3) and head.margin == pytest.approx(0.3)
    no_warmup = create_head(name, 8, 5, margin=0.4, warmup_epochs=0)
    assert no_warmup.margin == pytest.approx(0.4)


def test_arcface_logits_match_the_formula():
    torch.manual_seed(0)
    head = ArcFaceHead(6, 4, scale=10.0, margin=0.3)
    emb = torch.randn(5, 6)
    labels = torch.tensor([0, 1, 2, 3, 1])
    logits = head(emb, labels)
    cos = F.normalize(emb) @ F.normalize(head.weight).T
    theta = torch.acos(cos.clamp(-1, 1))
    for i, y in enumerate(labels.tolist()):
        for j in range(4):
            t = theta[i, j].item()
            if j == y:
                expected = math.cos(t + 0.3) if t + 0.3 < math.pi else cos[i, j].item() - math.sin(math.pi - 0.3) * 0.3
            else:
                expected = cos[i, j].item()
            assert logits[i, j].item() == pytest.approx(10.0 * expected, abs=1e-4)


def test_zero_margin_arcface_is_scaled_cosine():
    head = ArcFaceHead(6, 4, scale=7.0, margin=0.5, warmup_epochs=1.0)  # margin 0 at the start of warm-up
    emb = torch.randn(3, 6)
    logits = head(emb, torch.tensor([0, 1, 2]))
    torch.testing.assert_close(logits, 7.0 * (F.normalize(emb) @ F.normalize(head.weight).T), atol=1e-5, rtol=0)


def test_curricularface_reweights_hard_negatives_and_tracks_t():
    torch.manual_seed(0)
    head = CurricularFaceHead(4, 3, scale=1.0, margin=0.5, momentum=0.5)
    with torch.no_grad():
        head.weight.copy_(torch.eye(3, 4))
    emb = torch.tensor([[1.0, 0.9, 0.0, 0.0]])  # class 0 true, class 1 a hard negative (cos > cos(theta+m))
    label = torch.tensor([0])
    cos = head.cosine(emb)
    head.train()
    logits = head(emb, label)
    t = 0.5 * cos[0, 0].item()  # EMA from 0 with momentum 0.5
    assert head.t.item() == pytest.approx(t, abs=1e-6)
    assert logits[0, 1].item() == pytest.approx(cos[0, 1].item() * (t + cos[0, 1].item()), abs=1e-5)
    assert logits[0, 2].item() == pytest.approx(cos[0, 2].item(), abs=1e-6)  # easy negative unchanged
    assert logits[0, 0].item() == pytest.approx(math.cos(math.acos(cos[0, 0].item()) + 0.5), abs=1e-5)
    head.eval()
    head(emb, label)
    assert head.t.item() == pytest.approx(t, abs=1e-6)  # no update in eval mode
    assert "t" in head.state_dict()


@pytest.mark.parametrize("name", ["arcface", "curricularface"])
def test_heads_learn_a_toy_problem(name):
    """Embeddings from a linear layer on separable points: loss falls and classes become nearest-centre."""
    torch.manual_seed(0)
    centres = torch.randn(6, 16) * 3
    labels = torch.arange(6).repeat_interleave(20)
    x = centres[labels] + torch.randn(len(labels), 16)
    encoder = torch.nn.Linear(16, 8)
    head = create_head(name, 8, 6, scale=16.0, margin=0.3)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=0.02)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(head(encoder(x), labels), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    pred = (F.normalize(encoder(x)) @ F.normalize(head.weight).T).argmax(1)
    assert (pred == labels).float().mean() > 0.95


class _Enc(torch.nn.Module):
    kind = "image"
    embedding_dim = 8

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(4, 8)
        self.neck = torch.nn.BatchNorm1d(8)

    def forward(self, x):
        return F.normalize(self.neck(self.body(x)))

    def head_parameters(self):
        return list(self.body.parameters()), list(self.neck.parameters())


def test_metric_model_swaps_heads_and_builds_param_groups():
    model = MetricModel(_Enc(), create_head("arcface", 8, 3))
    x = torch.randn(4, 4)
    emb = model(x)
    assert emb.shape == (4, 8) and torch.allclose(emb.norm(dim=1), torch.ones(4), atol=1e-5)
    assert model(x, torch.tensor([0, 1, 2, 0])).shape == (4, 3)
    model.head = CurricularFaceHead(8, 3)  # swapped by passing another object
    assert model(x, torch.tensor([0, 1, 2, 0])).shape == (4, 3)
    groups = {g["name"]: g for g in model.param_groups(lr=1e-4, neck_lr=5e-4, head_lr=1e-2, weight_decay=0.1)}
    assert groups["backbone"]["lr"] == 1e-4 and groups["backbone"]["weight_decay"] == 0.1
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0  # bias
    assert groups["neck_no_decay"]["lr"] == 5e-4  # BN weight/bias
    assert groups["head"]["lr"] == 1e-2
    assert groups["head"]["params"][0] is model.head.weight
    n_grouped = sum(len(g["params"]) for g in groups.values())
    assert n_grouped == len(list(model.parameters()))
    with pytest.raises(ValueError, match="expects"):
        MetricModel(_Enc(), create_head("arcface", 16, 3))
