import pytest
import torch

from quantrack.errors import QuantrackError
from quantrack.models import CNN, MLP, LogisticRegression, build_model, count_params


def test_logreg_is_the_reports_single_linear_layer():
    m = build_model("logreg", 64, 10)
    assert isinstance(m, LogisticRegression)
    assert [type(x) for x in m.modules()][1:] == [torch.nn.Linear]
    assert count_params(m) == 650  # 64 x 10 weights + 10 biases, as in the report
    assert m(torch.zeros(3, 64)).shape == (3, 10)


def test_mlp_follows_hidden_sizes():
    m = build_model("mlp", 64, 10, (32, 16))
    assert isinstance(m, MLP)
    assert count_params(m) == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    assert m(torch.zeros(2, 64)).shape == (2, 10)


def test_cnn_takes_flat_square_images():
    m = build_model("cnn", 64, 10, image_shape=(8, 8))
    assert isinstance(m, CNN)
    assert m(torch.zeros(5, 64)).shape == (5, 10)


def test_cnn_refuses_non_image_data():
    with pytest.raises(QuantrackError, match="only to square image data"):
        build_model("cnn", 4, 3, image_shape=None)
    with pytest.raises(QuantrackError, match="square"):
        CNN(10, 3)
