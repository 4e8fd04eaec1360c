import pytest
import torch

from compress_helpers import QUICK, digits1, trained
from lab.compress import FitConfig, KMeansConfig, PruneConfig, prune, share_weights
from lab.compress.share import kmeans_codebook
from lab.models import build_model


@pytest.mark.parametrize("k", [2, 4, 16])
def test_kmeans_sharing_yields_exactly_k_values_per_layer(k):
    shared, report = share_weights(trained(), KMeansConfig(k, finetune=None), measure_config=QUICK)
    for i in (1, 3, 5):
        assert len(torch.unique(shared[i].weight)) == k


def test_pruned_zeros_stay_zero_and_centroid_finetuning_keeps_k_values():
    data = digits1()
    pruned, _ = prune(trained(), PruneConfig(0.8), measure_config=QUICK)
    tuned, report = share_weights(pruned, KMeansConfig(8, finetune=FitConfig(epochs=2, lr=1e-3)), data=data,
                                  measure_config=QUICK)
    untuned, report0 = share_weights(pruned, KMeansConfig(8, finetune=None), data=data, measure_config=QUICK)
    for i in (1, 3, 5):
        w = tuned[i].weight
        assert torch.equal(w == 0, pruned[i].weight == 0)
        assert len(torch.unique(w[w != 0])) == 8
        assert not torch.equal(w, untuned[i].weight)                      # the centroids moved
    assert all(p.requires_grad for p in tuned.parameters())
    assert report.metric >= report0.metric - 0.01


def test_codebook_indices_are_huffman_coded_in_the_packed_bytes():
    shared, report = share_weights(trained(), KMeansConfig(16, finetune=None), measure_config=QUICK)
    fixed_bits = 50_200 * 4 / 8                                          # 4-bit indices, no coding
    assert report.packed_bytes < fixed_bits + 2_000                      # + biases, codebooks, header
    assert report.packed_bytes < report.saved_bytes / 7


@pytest.mark.parametrize("k,message", [(1, "clusters must be an integer >= 2"), (0, "clusters must be")])
def test_too_few_clusters_are_refused(k, message):
    with pytest.raises(ValueError, match=message):
        KMeansConfig(k)


def test_more_clusters_than_weights_is_refused():
    model = build_model("mlp", hidden=(4,))
    with pytest.raises(ValueError, match=r"clusters=64 is more than the 40 non-zero weights of layer '3'"):
        share_weights(model, KMeansConfig(64, finetune=None), measure_config=QUICK)
    with pytest.raises(ValueError, match="more than the 3 non-zero"):
        kmeans_codebook(torch.tensor([1.0, 0.0, 2.0, 3.0]), 4)
