"""The default networks: shapes, heads, and use under IEG's meta step."""

import numpy as np
import pytest
import torch
from torch import nn

from sk_ieg import IEGClassifier
from sk_ieg.models import MLP, ResNetSmall, SmallCNN


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("head_units", [None, 16])
def test_small_cnn_output_shape(size, head_units):
    net = SmallCNN(3, 7, widths=(4, 8), head_units=head_units).eval()
    assert net(torch.randn(5, 3, size, size)).shape == (5, 7)


def test_small_cnn_pooled_head_is_the_spatial_mean():
    torch.manual_seed(0)
    net = SmallCNN(1, 10, widths=(4, 8)).eval()
    x = torch.randn(3, 1, 28, 28)
    expected = net.head(net.features(x).mean(dim=(2, 3)))
    torch.testing.assert_close(net(x), expected)
    assert isinstance(net.head, nn.Linear)


def test_small_cnn_fc_head_flattens_the_seven_by_seven_map():
    torch.manual_seed(0)
    net = SmallCNN(1, 10, widths=(4, 8), head_units=16).eval()
    x = torch.randn(3, 1, 28, 28)
    feats = net.features(x)
    assert feats.shape[-2:] == (7, 7)  # the grid pool is the identity at 28x28
    torch.testing.assert_close(net(x), net.head(feats.flatten(1)))
    first = net.head[0]
    assert first.in_features == 8 * 7 * 7 and first.out_features == 16
    assert isinstance(net.head[-1], nn.Linear)  # meta_scope="head" needs the last Linear


def test_other_models_output_shape():
    assert MLP(6, 3, hidden_units=(5,)).eval()(torch.randn(4, 6)).shape == (4, 3)
    assert ResNetSmall(1, 4, widths=(4, 8)).eval()(torch.randn(2, 1, 12, 12)).shape == (2, 4)


@pytest.mark.parametrize("meta_scope", ["all", "head"])
def test_ieg_fits_the_fully_connected_small_cnn(meta_scope):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 1, 28, 28)).astype(np.float32)
    y = np.arange(48) % 3
    clf = IEGClassifier(SmallCNN, module__in_channels=1, module__n_classes=3,
                        module__widths=(4, 8), module__head_units=8, meta_scope=meta_scope,
                        max_epochs=1, batch_size=16, random_state=0, verbose=0)
    clf.fit(X[:40], y[:40], X_trusted=X[40:], y_trusted=y[40:])
    assert clf.predict_proba(X).shape == (48, 3)
    assert np.isfinite(clf.sample_weights_).all()
