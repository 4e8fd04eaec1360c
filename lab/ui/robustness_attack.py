"""The attack half of the robustness panel: the trained systems under the widgets' attack.

After training, moving the eps slider or changing the attack kind, PGD steps or attacked
modules measures every trained system at that radius (``lab.robust_curves.RobustCurves``
caches each attack setting and radius, so going back is free) and redraws the table
(``lab.result_tables.robustness_rows``) and the metric-vs-eps figure.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

from ..adversarial import input_range
from ..result_tables import robustness_rows
from ..robust_curves import AttackSettings, eps_grid, eps_key
from ..tables import format_table
from ..viz import robustness_curves
from .adversarial_options import check_eps
from .base import readable_error
from .html import html_table
from .parsing import parse_modules

if TYPE_CHECKING:
    import plotly.graph_objects as go


@contextmanager
def _torch_threads(n: int | None):
    before = torch.get_num_threads()
    try:
        if n is not None:
            torch.set_num_threads(n)
        yield
    finally:
        torch.set_num_threads(before)


class AttackEvaluation:
    """Mixed into :class:`~lab.ui.robustness.RobustnessPanel`, which provides the widgets (``attack``,
    ``steps``, ``modules``, ``eps``, ``data_choice``, ``figure_view``, ``results_table``) and the trained
    state (``systems``, ``histories``, ``clean``, ``data``, ``trained_config``, ``_robust``, ``_eval_lock``)."""

    @property
    def evaluations(self) -> int:
        """Attacked evaluations of one system at one radius so far (cached radii do not count)."""
        return self._robust.evaluations

    def _attack_settings(self) -> AttackSettings:
        """The widgets' (kind, steps, modules), validated against the trained data: the cache key."""
        modules = parse_modules(self.modules.value)
        config = self.trained_config
        if modules != "all" and config is not None and config.data == "digits":
            raise ValueError("the digits' four modules share one image, so only 'all' inputs can be attacked")
        return AttackSettings.of(self.attack.value, self.steps.value, modules)

    def _measure(self, strategy: str, radii, key: AttackSettings) -> dict[float, dict[str, float]]:
        """Robust test metrics of one trained strategy at ``radii`` (cached per attack settings and eps)."""
        with self._eval_lock:
            return self._robust.measure(strategy, self.systems[strategy], radii, key)

    @property
    def curves(self) -> dict[str, dict[float, dict[str, float]]]:
        """{strategy: {eps: {task: metric}}} measured so far with the widgets' attack settings."""
        try:
            key = self._attack_settings()
        except ValueError:
            return {}
        return self._robust.curves(key)

    def evaluate(self, eps: float | None = None) -> list[dict[str, Any]]:
        """Attack every trained system at ``eps`` (default: the slider's) with the widgets' attack settings
        and return the table rows; the figure and table follow. The radii 0..slider end are measured
        once per attack setting (cached), so the curve has its shape at once. ValueError for bad values."""
        if not self.systems:
            raise ValueError("nothing is trained yet: press Train first")
        eps = eps_key(check_eps(self.eps.value if eps is None else eps, "eps (attack radius)"))
        key = self._attack_settings()
        radii = set(eps_grid(self.eps.max, self.trained_config.grid_points)) | {eps}
        with _torch_threads(self.num_threads):
            for strategy in list(self.systems):
                self._measure(strategy, radii, key)
        self._show(key, eps)
        return self.result_rows

    def refresh(self, force: bool = False) -> None:
        """Re-evaluate at the slider's eps after a widget change (a readable message for bad values).
        Does nothing before training, or while the data chosen is not the data trained on."""
        if self._quiet or not self.systems or self.data_choice.value != self.trained_config.data:
            return
        if self.running and not force:
            self.show_message("Training is running: the attack is measured again when it ends.", "info")
            return
        try:
            self.evaluate()
        except ValueError as err:
            self.show_message(f"Cannot attack with these settings: {readable_error(err)}", "error")
        else:
            if self.message_text.startswith(("Cannot attack", "The largest eps", "Training is running")):
                self.show_message("")

    def _show(self, key: AttackSettings, eps: float) -> None:
        curves = self._robust.curves(key, self.systems)
        attack = key.attack(eps, input_range(self.data))
        config = self.trained_config
        self.result_rows = robustness_rows(self.clean, {s: c[eps] for s, c in curves.items()}, self.histories,
                                           config.epochs)
        rows = self.result_rows
        metric = "/".join(sorted({t.metric for t in self.data.tasks}))
        adv = (f"; adversarially trained with {config.adversarial_choice.describe()}"
               if config.adversarial != "off" else "; no adversarial training")
        caption = (f"test {metric} on {self.data.name} ({len(self.data.test)} test examples) under "
                   f"{attack.label}" + (f", inputs clamped to {list(attack.clamp)}" if attack.clamp else "")
                   + f"; clean/robust = mean over tasks, per-task columns under attack{adv}")
        self.results_table.value = html_table(rows, caption=caption)
        self.figure_view.show(robustness_curves(curves, eps, metric=metric,
                                                title=f"{metric} under {key.name} attacks on {self.data.name}"
                                                      + (" (adversarially trained)" if config.adversarial != "off"
                                                         else "")))

    def results_text(self) -> str:
        """The table at the slider's eps as plain text (for print)."""
        return format_table(self.result_rows)

    def figure(self) -> "go.Figure | None":
        """The current robust-accuracy figure as a plain ``go.Figure`` (for ``.show()`` in a static notebook)."""
        return self.figure_view.snapshot()
