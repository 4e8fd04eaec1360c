"""The recipe grammar: one strict, table-driven parser for ``name[:value][:flag|key=value ...]`` steps.

Every step declares (``GRAMMAR``) its positional value (a typed ``Param``, required or with a
default), its flags in groups of alternatives (``layer`` | ``global``: at most one of a group) and
its ``key=value`` options with their types and ranges. Parsing checks everything a recipe can get
wrong before any step runs, and refuses rather than reinterprets:

* empty steps (``prune:0.9,,int8``) and empty parts (``prune::layer``);
* unknown steps, unknown flags and options, misspelt modes — with the allowed ones listed;
* values of the wrong type or range (``prune:-0.5``, ``kmeans:2.5``), non-finite numbers
  (``kmeans:1e400``, ``lr=nan``), missing option values (``kmeans:16:lr=``);
* two flags of one group (``prune:0.5:layer:global``), a flag given a value (``k-means++=0``),
  an option or flag given twice, a second positional value;
* an int8 step (it turns the model into an integer graph) anywhere but last.

``StepSpec`` keeps the step as written (``str(spec)`` is the canonical text); ``step_args(spec)``
gives its typed values (``{"value": 0.9, "layer": True, "epochs": 2, ...}``).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..validation import LR_MAX, MAX_EPOCHS, show

MAX_STEPS = 50              # steps in one recipe
MAX_RECIPE_FILE = 1 << 20   # bytes of a recipe file


@dataclass(frozen=True)
class StepSpec:
    """One parsed step: ``name``, its positional ``value`` (text, or None) and ``options``
    (flag -> True, key -> value text), as written."""

    name: str
    value: str | None = None
    options: dict = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [self.name] + ([self.value] if self.value is not None else [])
        parts += [k if v is True else f"{k}={v}" for k, v in self.options.items()]
        return ":".join(parts)


@dataclass(frozen=True)
class Param:
    """A typed value: ``kind`` float | int | choice | widths | name, its range and the rule's wording."""

    kind: str
    rule: str                         # e.g. "sparsity must lie in [0, 1) (fraction of weights set to zero)"
    min: float | None = None
    max: float | None = None
    max_open: bool = False
    min_open: bool = False
    choices: tuple[str, ...] = ()
    example: str = ""

    def parse(self, text: str, where: str) -> Any:
        bad = ValueError(f"{where}: {self.rule}, got {text!r}")
        if self.kind in ("float/", "int/"):      # one value per layer, '/'-separated: 0.9/0.97/0.6
            parts = text.split("/")
            if not 1 <= len(parts) <= 1024:
                raise bad
            one = Param(self.kind[:-1], self.rule, self.min, self.max, self.max_open, self.min_open)
            return tuple(one.parse(p, where) for p in parts)
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError(f"{where}: {self.rule}; choose from {list(self.choices)}, got {text!r}")
            return text
        if self.kind == "name":
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}", text):
                raise bad
            return text
        if self.kind == "widths":
            parts = text.split("x")
            if not 1 <= len(parts) <= 16 or not all(re.fullmatch(r"\d+", p) for p in parts):
                raise bad
            widths = tuple(int(p) for p in parts)
            if not all(self.min <= w <= self.max for w in widths):
                raise bad
            return widths
        if self.kind == "int":
            if not re.fullmatch(r"[+-]?\d+", text):
                raise bad
            value: float = int(text)
        else:
            try:
                value = float(text)
            except ValueError:
                raise bad from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: {self.rule}; {text!r} is not a finite number")
        if (self.min is not None and (value < self.min or (self.min_open and value == self.min))) or \
                (self.max is not None and (value > self.max or (self.max_open and value == self.max))):
            raise bad
        return value


@dataclass(frozen=True)
class StepGrammar:
    """What a step accepts: a positional ``value`` (``default`` used when absent; ``required``
    otherwise), flag groups (alternatives; at most one per group) and typed ``key=value`` options."""

    value: Param | None = None
    required: bool = False
    default: Any = None
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)     # group -> alternatives
    options: dict[str, Param] = field(default_factory=dict)

    def flag_group(self, flag: str) -> str | None:
        return next((g for g, alts in self.flags.items() if flag in alts), None)

    def allowed(self) -> list[str]:
        return [f for alts in self.flags.values() for f in alts] + [f"{k}=" for k in self.options]


EPOCHS = Param("int", f"epochs must be an integer from 0 to {MAX_EPOCHS}", 0, MAX_EPOCHS)
LR = Param("float", f"lr must be a number > 0 and <= {LR_MAX:g}", 0.0, LR_MAX, min_open=True)
TRAIN = {"epochs": EPOCHS, "lr": LR}
SCOPE = {"scope": ("layer", "global")}

GRAMMAR: dict[str, StepGrammar] = {
    "prune": StepGrammar(Param("float", "sparsity must lie in [0, 1) (fraction of weights set to zero)", 0.0, 1.0,
                               max_open=True, example="0.9"), required=True,
                         flags={**SCOPE, "coupling": ("coupling",)}, options=TRAIN),
    "channels": StepGrammar(Param("float", "ratio must lie in [0, 1) (fraction of channels removed)", 0.0, 1.0,
                                  max_open=True, example="0.5"), required=True,
                            flags={"importance": ("l1", "l2", "random"), "global": ("global",)}, options=TRAIN),
    "gradual": StepGrammar(Param("float", "final sparsity must lie in [0, 1)", 0.0, 1.0, max_open=True,
                                 example="0.9"), required=True, flags=SCOPE,
                           options={"steps": Param("int", "steps must be an integer from 1 to 100", 1, 100),
                                    **TRAIN}),
    "kmeans": StepGrammar(Param("int", "clusters must be an integer >= 2 (at most 65536)", 2, 1 << 16,
                                example="16"), required=True, flags={"init": ("k-means++", "linear")},
                          options=TRAIN),
    "fakequant": StepGrammar(Param("int", "bits must be an integer from 2 to 16", 2, 16, example="4"), default=8,
                             flags={"granularity": ("tensor", "channel"), "scheme": ("affine", "symmetric"),
                                    "rounding": ("truncate", "nearest")}),
    "int8": StepGrammar(Param("choice", "the int8 mode must be dynamic, static or qat",
                              choices=("dynamic", "static", "qat")), default="dynamic",
                        flags={"torchao": ("torchao",), "compile": ("compile",)}, options=TRAIN),
    "distill": StepGrammar(Param("widths", "the student's hidden widths look like 32 or 64x32 (1 to 16 widths, "
                                 "each from 1 to 16384)", 1, 16384, example="32"), required=True,
                           options={"T": Param("float", "T (temperature) must be a number > 0 and <= 100", 0.0, 100.0,
                                               min_open=True),
                                    "alpha": Param("float", "alpha must lie in [0, 1]", 0.0, 1.0),
                                    "task": Param("name", "task must be a task name such as digit"), **TRAIN}),
    "ensemble": StepGrammar(Param("int", "members must be an integer from 2 to 64", 2, 64), default=3,
                            options=TRAIN),
    # per-layer budgets (lab.compress.layerwise): one value per layer, '/'-separated
    "prune_layers": StepGrammar(Param("float/", "per-layer sparsities must each lie in [0, 1), '/'-separated "
                                      "(e.g. 0.9/0.97/0.6)", 0.0, 1.0, max_open=True, example="0.9/0.97/0.6"),
                                required=True,
                                options={"steps": Param("int", "steps must be an integer from 1 to 100", 1, 100),
                                         **TRAIN}),
    "kmeans_layers": StepGrammar(Param("int/", "per-layer clusters must each be an integer from 2 to 65536, "
                                       "'/'-separated (e.g. 8/4/16)", 2, 1 << 16, example="8/4/16"), required=True,
                                 options={"bias": Param("int", "bias clusters must be an integer from 2 to 65536",
                                                        2, 1 << 16), **TRAIN}),
    # W-guided steps (lab.compress.w_steps): they read their values themselves; the grammar refuses the rest
    "edges": StepGrammar(Param("float", "the fraction of coupling edges kept must lie in [0, 1]", 0.0, 1.0,
                               example="0.5"),
                         flags={"score": ("grad", "gradient", "random")},
                         options={"threshold": Param("float", "threshold must be a number >= 0", 0.0, 1e6),
                                  "count": Param("int", "count must be an integer from 0 to 4096", 0, 4096),
                                  **TRAIN}),
    "modules": StepGrammar(Param("int", "the number of modules removed must be an integer from 1 to 63", 1, 63,
                                 example="1"), default=1,
                           flags={"score": ("grad", "gradient", "magnitude", "random")}, options=TRAIN),
    "budget": StepGrammar(Param("float", "the mean sparsity must lie in [0, 1)", 0.0, 1.0, max_open=True,
                                example="0.8"), required=True,
                          flags={"allocation": ("uniform", "magnitude", "random")},
                          options={"bits": Param("int", "bits must be an integer from 2 to 16", 2, 16),
                                   "spread": Param("float", "spread must be a number from 0 to 10", 0.0, 10.0),
                                   **TRAIN}),
    "student": StepGrammar(Param("widths", "the student's hidden widths look like 64 or 64x32 (1 to 16 widths, "
                                 "each from 1 to 16384)", 1, 16384, example="64"), required=True,
                           options={"T": Param("float", "T (temperature) must be a number > 0 and <= 100", 0.0, 100.0,
                                               min_open=True),
                                    "alpha": Param("float", "alpha must lie in [0, 1]", 0.0, 1.0), **TRAIN}),
}


def _cross_checks(name: str, args: dict[str, Any]) -> None:
    """Combinations the tables cannot say: flags that only mean something with some values."""
    if name == "int8":
        if args.get("torchao") and args["value"] != "dynamic":
            raise ValueError("step 'int8': torchao is an engine for dynamic int8 only; "
                             f"int8:{args['value']} always uses torchao's PT2E")
        if args.get("compile") and args["value"] == "dynamic":
            raise ValueError("step 'int8': compile applies to int8:static and int8:qat (dynamic int8 is not compiled)")


def step_args(spec: StepSpec) -> dict[str, Any]:
    """The typed values of a step: ``value`` (the default when absent), every option, and each flag
    group's chosen flag (``args["scope"] == "layer"``; a group of one flag gives True/False)."""
    grammar = GRAMMAR[spec.name]
    where = f"step {spec.name!r}"
    args: dict[str, Any] = {}
    if spec.value is not None:
        if grammar.value is None:
            raise ValueError(f"{where} takes no value, got {spec.value!r}")
        args["value"] = grammar.value.parse(spec.value, where)
    elif grammar.required:
        raise ValueError(f"{where} needs a value ({grammar.value.rule}), e.g. {spec.name}:{grammar.value.example}")
    else:
        args["value"] = grammar.default
    for group, alts in grammar.flags.items():
        chosen = [k for k in spec.options if k in alts]
        if len(chosen) > 1:
            raise ValueError(f"{where}: choose at most one of {list(alts)}, got {chosen}")
        args[group] = (chosen[0] if chosen else None) if len(alts) > 1 else bool(chosen)
    for key, raw in spec.options.items():
        if grammar.flag_group(key) is not None:
            if raw is not True:
                raise ValueError(f"{where}: {key!r} is a flag: write it alone ({spec.name}:...:{key}), "
                                 f"without '={raw}'")
        elif key in grammar.options:
            if raw is True:
                raise ValueError(f"{where}: option {key!r} needs a value, e.g. {key}=...")
            if raw == "":
                raise ValueError(f"{where}: the value of {key!r} is missing ({grammar.options[key].rule})")
            args[key] = grammar.options[key].parse(raw, where)
        else:
            raise ValueError(f"step {spec.name!r} does not take option(s) {[key]}; it takes {grammar.allowed()}")
    _cross_checks(spec.name, args)
    return args


def parse_step(text: str) -> StepSpec:
    """One step from its text (strict; see the module docstring)."""
    if not isinstance(text, str):
        raise ValueError(f"a recipe step is text like prune:0.9, got {show(text)}")
    tokens = [t.strip() for t in text.strip().split(":")]
    name = tokens[0].lower()
    if not name:
        raise ValueError(f"a recipe step needs a name; choose from {list(GRAMMAR)}, got {text!r}")
    if name not in GRAMMAR:
        raise ValueError(f"unknown recipe step {name!r}; choose from {list(GRAMMAR)}")
    grammar = GRAMMAR[name]
    value, options = None, {}
    for i, tok in enumerate(tokens[1:], start=1):
        if not tok:
            raise ValueError(f"step {text.strip()!r} has an empty part (two ':' in a row, or one at the end)")
        key, sep, raw = tok.partition("=")
        key = key.strip()
        if sep:
            if not key:
                raise ValueError(f"step {name!r}: {tok!r} has no option name before '='")
            if key in options:
                raise ValueError(f"step {name!r}: option {key!r} is given twice")
            options[key] = raw.strip()
        elif i == 1 and grammar.value is not None and grammar.flag_group(tok) is None:
            value = tok
        elif grammar.flag_group(tok) is not None or tok in grammar.options:
            if tok in options:
                raise ValueError(f"step {name!r}: {tok!r} is given twice")
            options[tok] = True
        elif grammar.value is not None and re.fullmatch(r"[+-]?[\d.].*", tok):
            raise ValueError(f"step {name!r}: unexpected value {tok!r}; the value comes first "
                             f"({name}:{grammar.value.example or 'VALUE'}:...) and only once")
        else:
            raise ValueError(f"step {name!r} does not take option(s) {[tok]}; it takes {grammar.allowed()}")
    spec = StepSpec(name, value, options)
    step_args(spec)           # every value typed and in range, now
    return spec


def _token(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where}: values are numbers or words, got {show(value)}")
    text = repr(value) if isinstance(value, float) else str(value)
    if any(c in text for c in ":,="):
        raise ValueError(f"{where}: a value cannot contain ':', ',' or '=', got {text!r}")
    return text


def _from_mapping(item: dict) -> StepSpec:
    if len(item) != 1:
        raise ValueError(f"a recipe file step is one mapping {{name: options}}, got {show(item)}")
    (name, opts), = item.items()
    if not isinstance(name, str):
        raise ValueError(f"a recipe file step's name is text like prune, got {show(name)}")
    where = f"step {name!r}"
    opts = dict(opts) if isinstance(opts, dict) else ({} if opts is None else {"value": opts})
    tokens = [name]
    if opts.get("value") is not None:
        tokens.append(_token(opts.pop("value"), where))
    opts.pop("value", None)
    for key, v in opts.items():
        if v is True:
            tokens.append(_token(key, where))
        elif v is not False:
            tokens.append(f"{_token(key, where)}={_token(v, where)}")
    return parse_step(":".join(tokens))


def _read_file(path: Path) -> list:
    if not path.is_file():
        raise ValueError(f"recipe file {path} does not exist")
    if path.stat().st_size > MAX_RECIPE_FILE:
        raise ValueError(f"recipe file {path} is larger than {MAX_RECIPE_FILE} bytes; a recipe is a short list")
    try:
        text = path.read_text()
        if path.suffix == ".json":
            loaded = json.loads(text)
        else:
            import yaml

            loaded = yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as err:
        raise ValueError(f"recipe file {path} is not valid {path.suffix[1:].upper()}: {err}") from None
    except Exception as err:     # yaml.YAMLError and its subclasses
        raise ValueError(f"recipe file {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    items = loaded.get("steps") if isinstance(loaded, dict) else loaded
    if not isinstance(items, list):
        raise ValueError(f"recipe file {path} must hold a list of steps (or {{steps: [...]}})")
    return items


def parse_recipe(recipe: str | list | Path) -> list[StepSpec]:
    """Steps of a recipe string (``"prune:0.9,kmeans:16"``), a list, or a .yaml/.json file; ValueError
    naming the step and what is wrong (see the module docstring) before any step runs."""
    if isinstance(recipe, Path) or (isinstance(recipe, str) and recipe.strip().endswith((".yaml", ".yml", ".json"))):
        return parse_recipe(_read_file(Path(str(recipe).strip())))
    if isinstance(recipe, str):
        if not recipe.strip():
            raise ValueError("the recipe is empty; e.g. prune:0.9,kmeans:16,int8")
        items: list = recipe.split(",")
        for i, item in enumerate(items, start=1):
            if not item.strip():
                raise ValueError(f"step {i} of the recipe {recipe!r} is empty (two commas in a row, or one at an end)")
    elif isinstance(recipe, (list, tuple)):
        items = list(recipe)
    else:
        raise ValueError(f"a recipe is a string like prune:0.9,int8, a list of steps or a file, got {show(recipe)}")
    if len(items) > MAX_STEPS:
        raise ValueError(f"the recipe has {len(items)} steps; at most {MAX_STEPS}")
    specs = [parse_step(str(it)) if isinstance(it, StepSpec) else _from_mapping(it) if isinstance(it, dict)
             else parse_step(it) for it in items]
    if not specs:
        raise ValueError("the recipe is empty; e.g. prune:0.9,kmeans:16,int8")
    for i, spec in enumerate(specs[:-1]):
        if spec.name == "int8":
            raise ValueError(f"step {str(spec)!r} turns the model into an integer graph, so it must be the last "
                             f"step; it is followed by {[str(s) for s in specs[i + 1:]]}")
    return specs
