"""DHC heads: the loss rebuilt by hand, gradients, the dependence term's behaviour, predictions."""

import math

import numpy as np
import pytest
import torch

from prodmatch.models.hierarchy import HierarchicalHeads, dependence_loss

# 2 parents, 3 children: children 0 and 1 belong to parent 0, child 2 to parent 1
PARENTS = [[0, 0, 1]]


def heads(**kwargs):
    torch.manual_seed(0)
    return HierarchicalHeads(8, [2, 3], PARENTS, hidden=4, **kwargs)


def softmax(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def test_loss_rebuilt_by_hand():
    model = heads(level_weights=[0.5, 2.0], dependence_weight=0.8, penalty_base=3.0)
    parent_logits = torch.tensor([[1.0, -1.0], [0.2, 0.3]])
    child_logits = torch.tensor([[0.1, 0.2, 2.0], [1.0, 0.0, -1.0]])
    targets = torch.tensor([[0, 1], [1, 2]])
    result = model.loss([parent_logits, child_logits], targets)

    ce_parent, ce_child, dependence = 0.0, 0.0, 0.0
    for row in range(2):
        pp, pc = softmax(parent_logits[row].tolist()), softmax(child_logits[row].tolist())
        yp, yc = targets[row].tolist()
        ce_parent += -math.log(pp[yp]) / 2
        ce_child += -math.log(pc[yc]) / 2
        consistent = pp[0] * (pc[0] + pc[1]) + pp[1] * pc[2]  # P(parent head, child head agree on the tree)
        inconsistency = 1 - consistent
        wrong_parent, wrong_child = 1 - pp[yp], 1 - pc[yc]
        dependence += (3.0 ** (inconsistency * wrong_parent) * 3.0 ** (inconsistency * wrong_child) - 1) / 2
    assert result.level_losses[0].item() == pytest.approx(ce_parent, rel=1e-5)
    assert result.level_losses[1].item() == pytest.approx(ce_child, rel=1e-5)
    assert result.dependence.item() == pytest.approx(dependence, rel=1e-5)
    assert result.total.item() == pytest.approx(0.5 * ce_parent + 2.0 * ce_child + 0.8 * dependence, rel=1e-5)


def test_one_hot_limit_is_dhc_formula():
    # sharp logits: parent predicts 0, child predicts 2 (a child of parent 1): inconsistent, D = 1
    parent = torch.tensor([[60.0, 0.0]])
    child = torch.tensor([[0.0, 0.0, 60.0]])
    probs = (torch.softmax(parent, 1), torch.softmax(child, 1))
    parent_of = torch.tensor(PARENTS[0])
    both_wrong = dependence_loss(*probs, parent_of, torch.tensor([1]), torch.tensor([0]), 3.0)
    parent_right_child_wrong = dependence_loss(*probs, parent_of, torch.tensor([0]), torch.tensor([1]), 3.0)
    assert both_wrong.item() == pytest.approx(3.0 ** 1 * 3.0 ** 1 - 1)  # p^(D l_prev) p^(D l_curr) - 1 = 8
    assert parent_right_child_wrong.item() == pytest.approx(3.0 - 1)


def test_inconsistent_prediction_costs_more_than_consistent_ones():
    model = heads()
    parent = torch.tensor([[4.0, -4.0]])  # parent 0
    targets = torch.tensor([[0, 1]])
    consistent_right = model.loss([parent, torch.tensor([[-4.0, 4.0, -4.0]])], targets).dependence
    consistent_wrong = model.loss([parent, torch.tensor([[4.0, -4.0, -4.0]])], targets).dependence  # child 0: wrong
    inconsistent = model.loss([parent, torch.tensor([[-4.0, -4.0, 4.0]])], targets).dependence  # child 2: parent 1
    assert inconsistent.item() > 10 * consistent_wrong.item()
    assert inconsistent.item() > 10 * consistent_right.item()
    assert inconsistent.item() > 1.0


def test_gradients_reach_every_parameter_and_both_heads_through_the_dependence_term():
    model = heads()
    embeddings = torch.randn(6, 8)
    targets = torch.tensor([[0, 0], [0, 1], [1, 2], [0, 1], [1, 2], [0, 0]])
    model.loss(model(embeddings), targets).total.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    model.zero_grad()
    model.loss(model(embeddings), targets).dependence.backward()
    assert model.classifiers[0].weight.grad.abs().sum() > 0 and model.classifiers[1].weight.grad.abs().sum() > 0


def test_child_level_sees_its_parent_representation():
    model = heads()
    assert model.classifiers[0].in_features == 4 and model.classifiers[1].in_features == 8  # concat(r_1, r_0)
    model.eval()
    embeddings = torch.randn(3, 8)
    before = model(embeddings)[1].clone()
    with torch.no_grad():
        model.representations[0][1].weight.add_(1.0)  # change only the parent level's representation
    assert not torch.allclose(model(embeddings)[1], before)


def test_predict_plain_and_consistent():
    model = heads()
    with torch.no_grad():
        for classifier, bias in zip(model.classifiers, ([1.0, 0.0], [0.0, 0.5, 1.0])):
            classifier.weight.zero_()
            classifier.bias.copy_(torch.tensor(bias))
    embeddings = torch.randn(2, 8)
    model.train()
    assert model.predict(embeddings).tolist() == [[0, 2], [0, 2]]  # child 2 contradicts parent 0
    assert model.predict(embeddings, consistent=True).tolist() == [[0, 1], [0, 1]]
    assert model.training  # mode restored
    assert model.predict(embeddings).dtype == torch.int64


def test_three_levels_from_a_category_tree():
    from prodmatch.visual.layout import CategoryTree

    tree = CategoryTree(("level1", "level2", "level3"),
                        (np.array(["a", "b"], object), np.array(["a1", "a2", "b1"], object),
                         np.array(["x", "y", "z", "w"], object)),
                        (np.array([0, 0, 1]), np.array([0, 1, 2, 2])))
    model = HierarchicalHeads(8, tree.sizes, tree.parents, hidden=4)
    logits = model(torch.randn(5, 8))
    assert [tuple(x.shape) for x in logits] == [(5, 2), (5, 3), (5, 4)]
    loss = model.loss(logits, torch.tensor([[0, 0, 0], [0, 1, 1], [1, 2, 2], [1, 2, 3], [0, 0, 0]]))
    assert torch.isfinite(loss.total) and loss.dependence.item() >= 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(level_sizes=[2, 3], parents=[[0, 0]]), "parents\\[0\\] has 2 entries"),
    (dict(level_sizes=[2, 3], parents=[[0, 0, 2]]), "class ids of level 0"),
    (dict(level_sizes=[2, 3], parents=[]), "one parent array per level"),
    (dict(level_sizes=[2, 3], parents=[[0, 0, 1]], penalty_base=1.0), "penalty_base > 1"),
    (dict(level_sizes=[2, 3], parents=[[0, 0, 1]], level_weights=[1.0]), "level_weights"),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HierarchicalHeads(8, **kwargs)


def test_bad_targets():
    model = heads()
    logits = model(torch.randn(2, 8))
    with pytest.raises(ValueError, match="level-1 targets must be in 0..2"):
        model.loss(logits, torch.tensor([[0, 3], [0, 0]]))
    with pytest.raises(ValueError, match="int64 of shape"):
        model.loss(logits, torch.tensor([0, 1]))


def _metric_model_with_heads(with_heads: bool = True):
    from prodmatch.models.build import MetricModel
    from prodmatch.models.heads import ArcFaceHead
    from prodmatch.models.hierarchy import HierarchicalMetricModel

    class Flat(torch.nn.Module):  # a stand-in encoder: flatten + linear
        embedding_dim = 8

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(6, 8)

        def forward(self, x):
            return torch.nn.functional.normalize(self.linear(x), dim=1)

        def head_parameters(self):
            return list(self.linear.parameters()), []

    torch.manual_seed(0)
    return HierarchicalMetricModel(MetricModel(Flat(), ArcFaceHead(8, 5, scale=10.0, margin=0.2)),
                                   heads() if with_heads else None)


def test_metric_model_with_heads_adds_the_dhc_loss_of_labelled_rows():
    model = _metric_model_with_heads()
    x = torch.randn(4, 6)
    labels = torch.tensor([[0, 0, 1], [1, 1, 2], [2, -1, -1], [3, 0, 0]])
    product_logits, level_logits = model(x, labels)
    assert product_logits.shape == (4, 5) and [t.shape for t in level_logits] == [(4, 2), (4, 3)]
    total = model.loss((product_logits, level_logits), labels)
    product = torch.nn.functional.cross_entropy(product_logits, labels[:, 0])
    keep = torch.tensor([True, True, False, True])  # row 2 has no category
    dhc = model.hierarchy.loss([t[keep] for t in level_logits], labels[keep][:, 1:]).total
    assert total.item() == pytest.approx((product + dhc).item(), rel=1e-6)
    unlabelled = labels.clone()
    unlabelled[:, 1:] = -1
    outputs = model(x, unlabelled)
    only_product = model.loss(outputs, unlabelled)
    only_product.backward()  # the heads stay in the graph with zero gradient (DDP needs every parameter)
    assert all(p.grad is not None and not p.grad.any() for p in model.hierarchy.parameters())
    assert model(x).shape == (4, 8)  # no labels: embeddings
    groups = model.param_groups(1e-3, 2e-3, 1e-2)
    assert [g["name"] for g in groups][-2:] == ["hierarchy", "head"] and groups[-2]["lr"] == 2e-3
    with pytest.raises(ValueError, match="int64"):
        model(x, labels[:, 0])


def test_without_heads_the_loss_is_the_product_loss():
    model = _metric_model_with_heads(with_heads=False)
    labels = torch.tensor([[0], [1]])
    product_logits, level_logits = model(torch.randn(2, 6), labels)
    assert level_logits is None
    assert model.loss((product_logits, None), labels).item() == pytest.approx(
        torch.nn.functional.cross_entropy(product_logits, labels[:, 0]).item())


def test_payload_round_trip_predicts_the_same_categories():
    from prodmatch.models.hierarchy import CategoryPredictor, hierarchy_payload

    model = heads(level_weights=[1.0, 2.0])
    x = torch.randn(3, 8)
    _ = model(x)  # a training-mode pass moves the BatchNorm statistics away from their initial values
    payload = hierarchy_payload(model, ["level1", "level2"], [["a", "b"], ["a1", "a2", "b1"]])
    predictor = CategoryPredictor.from_payload(payload)
    expected = model.predict(x, consistent=True).numpy()
    assert (predictor.predict(x.numpy()) == expected).all() and predictor.classes[1] == ["a1", "a2", "b1"]
    assert predictor.heads.level_weights == [1.0, 2.0]
    with pytest.raises(TypeError, match="float32"):
        predictor.predict(x.double().numpy())
    with pytest.raises(ValueError, match="do not fit"):
        hierarchy_payload(model, ["level1"], [["a", "b"]])
