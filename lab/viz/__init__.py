"""Plotly figures of the coupling W and of training, from a live system or a saved ``History``.

Every view takes plain matrices or a ``History`` (so a saved run replays without
training). W conventions: ``W[i, j]`` is what module i takes from module j
(row = receiver); a stage's W is (num_modules, num_modules); "epoch 0" means
the W before training (``History.W_init``), epoch k the W after epoch k.

Views:

* :func:`W_heatmap` / :func:`W_heatmaps` - one heatmap per stage, diverging
  colours centred on 0, module names on the axes, values on hover;
* :func:`W_graph` - modules as nodes, W_ij as edges j -> i (width = |W_ij|,
  red positive, blue negative), edges under a threshold hidden by a slider;
* :func:`W_animation` - W across the recorded epochs (slider and play button);
  :func:`W_trajectories` - chosen entries W_ij(t) over the epochs;
* :func:`training_curves` - per-task loss and validation metric per epoch;
  :func:`task_weight_curves` - the loss weights lambda_i per epoch;
* :func:`W_vs_truth` - learned |W| next to the ground-truth W* with the
  recovery scores of :func:`lab.coupling.recovery_report`;
* :func:`W_side_by_side` - the W of two runs next to each other;
* :func:`robustness_curves` - robust metric vs attack radius per strategy, per task at one eps;
* :func:`W_before_after` - every stage's W before and after adaptation, and the change;
* :func:`compression_preview` - accuracy and packed size vs sparsity at one bit width, a marker at the slider;
* :func:`pareto` - accuracy vs real bytes of compression recipes, step by step, with the non-dominated points;
* :func:`accuracy_vs_edges` / :func:`accuracy_vs_bytes` - W-guided compression against its baselines
  (:mod:`~lab.viz.w_pruning`).

One module per subject: :mod:`~lab.viz.w` (W), :mod:`~lab.viz.training`, :mod:`~lab.viz.robustness`
(robustness and transfer), :mod:`~lab.viz.compression`; :mod:`~lab.viz.common` reads W and holds the colours.
"""
from .arena import weighting_duel
from .common import (COLORSCALE, NEGATIVE, POSITIVE, TASK_COLORS, W_at_epoch, as_matrices, module_labels,
                     snapshot_epochs)
from .compression import compression_preview, pareto, pareto_front
from .robustness import W_before_after, robustness_curves
from .training import task_weight_curves, training_curves
from .w import W_animation, W_graph, W_heatmap, W_heatmaps, W_side_by_side, W_trajectories, W_vs_truth
from .w_pruning import accuracy_vs_bytes, accuracy_vs_edges

__all__ = ["COLORSCALE", "NEGATIVE", "POSITIVE", "TASK_COLORS", "W_animation", "W_at_epoch", "W_before_after",
           "W_graph", "W_heatmap", "W_heatmaps", "W_side_by_side", "W_trajectories", "W_vs_truth", "as_matrices",
           "compression_preview", "module_labels", "pareto", "pareto_front", "robustness_curves", "snapshot_epochs",
           "task_weight_curves", "training_curves"]
__all__ += ["accuracy_vs_bytes", "accuracy_vs_edges", "weighting_duel"]
