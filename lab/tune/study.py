"""A study: its settings (``TuneConfig``), where it is stored, and opening it safely.

    config = TuneConfig(get_space("mlp_compression"), objectives=("accuracy", "bytes"), trials=30)
    study = open_study(config)               # creates it, or continues it (same space and objectives)
    study, config = join_study("mlp_compression", storage=None)   # what a worker / `tune show` does

The study records its settings (space, objectives, sampler, seed) as the user attr ``lab.tune``;
opening a study of the same name with another space or other objectives is refused before any
trial runs, so two people cannot silently mix trials of different searches. Samplers (seeded):
``nsga2`` (NSGA-II, the default), ``tpe`` (multivariate TPE), ``gp`` (Gaussian process), ``random``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .objectives import DEFAULT_OBJECTIVES, check_objectives, directions
from .spaces import SearchSpace
from .storage import open_storage, redact, resolve_storage

if TYPE_CHECKING:
    import optuna

STUDY_ATTR = "lab.tune"
STUDY_FORMAT = "lab.tune/1"
SAMPLERS: dict[str, str] = {"nsga2": "NSGA-II (multi-objective genetic search)", "tpe": "TPE (multivariate)",
                            "gp": "Gaussian-process Bayesian optimisation", "random": "random search (a baseline)"}


@dataclass(frozen=True)
class TuneConfig:
    """How to search: the ``space``, the ``objectives`` (``lab.tune.objectives``), the ``sampler`` and its
    ``seed``, ``trials`` (the study's total, shared by all workers), NSGA-II's ``population``, the
    ``study`` name (default: the space's) and ``storage`` (None: ``runs/tune/studies.db``), and the
    heartbeat (seconds), grace period (seconds, default 3 heartbeats) and ``max_retry`` of stale trials."""

    space: SearchSpace
    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    sampler: str = "nsga2"
    seed: int = 0
    trials: int = 20
    population: int = 12
    study: str | None = None
    storage: str | None = None
    heartbeat: int = 10
    grace: int | None = None
    max_retry: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "objectives", check_objectives(self.objectives))
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}; choose from {list(SAMPLERS)}")
        for name, low in (("trials", 1), ("population", 2), ("heartbeat", 1), ("max_retry", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.grace is not None and (not isinstance(self.grace, int) or self.grace <= self.heartbeat):
            raise ValueError(f"grace must be an integer number of seconds above the heartbeat ({self.heartbeat}), "
                             f"got {self.grace!r}")
        name = self.study or self.space.name
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,119}", name):
            raise ValueError(f"study name {name!r}: use letters, digits, '_', '-', '.', ':' (at most 120)")
        object.__setattr__(self, "study", name)

    @property
    def storage_url(self) -> str:
        return resolve_storage(self.storage)

    def record(self) -> dict[str, Any]:
        """What the study stores about itself (JSON)."""
        return {"format": STUDY_FORMAT, "space": self.space.to_dict(), "fingerprint": self.space.fingerprint(),
                "objectives": list(self.objectives), "sampler": self.sampler, "seed": self.seed,
                "population": self.population, "trials": self.trials}

    @classmethod
    def from_record(cls, record: dict[str, Any], **overrides: Any) -> "TuneConfig":
        if not isinstance(record, dict) or record.get("format") != STUDY_FORMAT:
            raise ValueError("this study was not made by the lab's tuner (no lab.tune record)")
        fields = {"space": SearchSpace.from_dict(record["space"]), "objectives": tuple(record["objectives"]),
                  "sampler": record["sampler"], "seed": int(record["seed"]),
                  "population": int(record.get("population", 12)), "trials": int(record.get("trials", 20))}
        return cls(**{**fields, **{k: v for k, v in overrides.items() if v is not None}})


def make_sampler(name: str, seed: int, population: int = 12) -> optuna.samplers.BaseSampler:
    """A seeded sampler by name (``SAMPLERS``)."""
    import optuna   # ~0.1 s with its samplers and storages: loaded when a study is used, not on import

    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(10, population))
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=min(10, population))
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; choose from {list(SAMPLERS)}")


def sampler_seed(seed: int, worker: int, done: int) -> int:
    """The sampler seed of worker ``worker`` joining a study that holds ``done`` trials: ``seed`` for
    the first worker of a fresh study (so the same seed gives the same trials), shifted otherwise so
    that workers and resumed runs do not repeat each other's random draws."""
    return seed + 1_000_003 * worker + 7919 * done


def _storage(config: TuneConfig) -> optuna.storages.BaseStorage:
    return open_storage(config.storage_url, heartbeat=config.heartbeat, grace=config.grace,
                        max_retry=config.max_retry)


def open_study(config: TuneConfig, *, worker: int = 0) -> optuna.Study:
    """Create the study, or open it to continue; ValueError if a study of that name searches another
    space or other objectives, or if the storage cannot be reached."""
    import optuna   # ~0.1 s with its samplers and storages: loaded when a study is used, not on import

    storage = _storage(config)
    name = config.study
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        study = optuna.create_study(study_name=name, storage=storage, directions=directions(config.objectives),
                                    load_if_exists=True)
        if STUDY_ATTR not in study.user_attrs:
            study.set_user_attr(STUDY_ATTR, config.record())
    check_same_search(study, config)
    if study.user_attrs[STUDY_ATTR].get("trials") != config.trials:
        study.set_user_attr(STUDY_ATTR, {**study.user_attrs[STUDY_ATTR], "trials": config.trials})
    study.sampler = make_sampler(config.sampler, sampler_seed(config.seed, worker, len(study.trials)),
                                 config.population)
    return study


def check_same_search(study: optuna.Study, config: TuneConfig) -> None:
    """ValueError unless ``study`` searches ``config``'s space for the same objectives."""
    record = study.user_attrs.get(STUDY_ATTR)
    where = f"study {study.study_name!r} in {redact(config.storage_url)}"
    if not isinstance(record, dict) or record.get("format") != STUDY_FORMAT:
        raise ValueError(f"{where} was not made by the lab's tuner; choose another study name")
    if record.get("fingerprint") != config.space.fingerprint():
        raise ValueError(f"{where} searches another space ({record['space']['name']!r}, "
                         f"{_space_difference(record['space'], config.space)}); choose another study name, or "
                         "leave out the space options to continue it")
    if list(record.get("objectives", [])) != list(config.objectives):
        raise ValueError(f"{where} optimises {record.get('objectives')}, not {list(config.objectives)}; "
                         "choose another study name")


def _space_difference(saved: dict[str, Any], space: SearchSpace) -> str:
    mine = space.to_dict()
    strip = lambda p: {k: v for k, v in p.items() if k != "help"}  # noqa: E731
    old = {p["name"]: strip(p) for p in saved.get("params", [])}
    new = {p["name"]: strip(p) for p in mine["params"]}
    diffs = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if saved.get("base") != mine["base"]:
        diffs.append("base settings")
    if saved.get("kind") != mine["kind"]:
        diffs.insert(0, f"kind {saved.get('kind')} vs {mine['kind']}")
    return "differs in " + ", ".join(diffs[:6]) + (" ..." if len(diffs) > 6 else "") if diffs else "another name"


def join_study(study: str, storage: str | None = None, *, worker: int = 0, **overrides: Any) -> tuple[optuna.Study, TuneConfig]:
    """Open an existing study made by the tuner and its TuneConfig (from the study's record);
    ``overrides`` (trials, heartbeat, grace, ...) replace recorded settings. ValueError if it does not exist."""
    import optuna   # ~0.1 s with its samplers and storages: loaded when a study is used, not on import

    url = resolve_storage(storage)
    probe = replace_none(overrides)
    storage_obj = open_storage(url, heartbeat=probe.get("heartbeat", 10), grace=probe.get("grace"),
                               max_retry=probe.get("max_retry", 2))
    names = [s.study_name for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False)]
    if study not in names:
        raise ValueError(f"no study {study!r} in {redact(url)}; it holds {names or 'no studies'}")
    record = optuna.load_study(study_name=study, storage=storage_obj).user_attrs.get(STUDY_ATTR)
    config = TuneConfig.from_record(record, study=study, storage=storage, **probe)
    return open_study(config, worker=worker), config


def replace_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def list_studies(storage: str | None = None) -> list[str]:
    """Names of the studies in a storage (the default file if None)."""
    import optuna   # ~0.1 s with its samplers and storages: loaded when a study is used, not on import

    url = resolve_storage(storage)
    return [s.study_name for s in optuna.get_all_study_summaries(open_storage(url, heartbeat=None),
                                                                 include_best_trial=False)]


__all__ = ["SAMPLERS", "STUDY_ATTR", "TuneConfig", "check_same_search", "join_study", "list_studies", "make_sampler",
           "open_study", "sampler_seed"]
