import pytest
import torch

from lab.models import MODELS, build_model, count_parameters


@pytest.mark.parametrize("name", ["mlp", "lenet", "dscnn"])
def test_reference_models_map_digits_to_ten_logits(name):
    model = build_model(name)
    assert model(torch.rand(5, 1, 8, 8)).shape == (5, 10)
    assert model.input_shape == (1, 8, 8)


def test_mlp_is_the_64_300_100_10_network():
    model = build_model("mlp")
    assert count_parameters(model) == 64 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10


def test_mobilenet_v3_small_is_torchvisions_with_random_weights():
    model = build_model("mobilenet_v3_small", input_shape=(3, 64, 64))
    assert count_parameters(model) == 1_528_106        # torchvision's, with a 10-class head
    assert model.eval()(torch.rand(2, 3, 64, 64)).shape == (2, 10)
    grey = build_model("mobilenet_v3_small", input_shape=(1, 8, 8))   # digits: repeated to RGB, resized to 32
    assert grey.eval()(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_same_seed_same_weights_and_unknown_names_are_refused():
    a, b = build_model("lenet", seed=3), build_model("lenet", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(next(a.parameters()), next(build_model("lenet", seed=4).parameters()))
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet")
    assert set(MODELS) == {"mlp", "lenet", "dscnn", "mobilenet_v3_small"}
