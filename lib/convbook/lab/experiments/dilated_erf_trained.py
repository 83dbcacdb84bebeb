"""The effective receptive field of trained segmentation networks (dilated/03).

Luo et al. (2016) measure a network's *effective* receptive field by the
gradient of one output pixel with respect to the input: it is zero outside the
theoretical field, and its mass concentrates towards the centre. dilated/03
first shows this on an untrained linear stack with positive weights; this
experiment measures it on the chapter's trained segmentation networks
(``dilated_segmentation``'s ``plain`` (field 9x9), ``dilated`` and
``plain_deep`` (both 17x17)), at PyTorch's default initialisation and after
training (20 epochs, exactly as in ``dilated_segmentation``; same seeds and the
same per-seed data draws, so the same networks), from each of five seeds.

For each network: the mean absolute gradient of the centre output pixel's
class scores with respect to the 256 test images
(``convbook.nets.segmentation.effective_receptive_field``, eval mode), the share
of its total in centred squares of side 1, 3, ..., 23
(``centred_mass``), the odd sides that hold 50 %, 90 % and 99 % of it
(``erf_extent``), and the continuous measure, the interpolated side that holds
50 % and 90 % of it (``erf_side``), per seed, at initialisation and trained for
the same network and seed (each seed measured on its own test images). A
uniform spread over the theoretical field of side ``r`` would put
``(s / r)^2`` of the total in the centred square of side ``s``; its
interpolated sides are stored beside (``uniform_side``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convbook.lab.experiments.dilated_segmentation import (
    DATA,
    FIELDS,
    MODELS,
    QUICK_TRAIN,
    SEEDS,
    THREADS,
    TRAIN,
    Data,
    Training,
    data,
    train_one,
)
from convbook.lab.stats import summary
from convbook.lab.timing import fixed_threads
from convbook.lab.typed import Summary
from convbook.nets.segmentation_eval import centred_mass, effective_receptive_field, erf_extent, erf_side
from convbook.nets.training import deterministic

DESCRIPTION = (
    "dilated/03: gradient-based effective receptive field of the plain, dilated and deep plain segmentation "
    "networks of dilated/07, at initialisation and trained, 5 seeds; mass in centred squares, 50/90/99 % extents"
)
RESULT_VERSION = 2

ERF_MODELS = ("plain", "dilated", "plain_deep")
FRACTIONS = (0.5, 0.9, 0.99)
SIDE_FRACTIONS = (0.5, 0.9)


@dataclass(frozen=True)
class Settings:
    seeds: list[int]
    data: Data
    training: Training
    models: dict[str, str]  # name -> description
    fractions: list[float]
    measured_on: str
    threads: int
    device: str


@dataclass(frozen=True)
class Field:
    """One network's effective field (:func:`measure`)."""

    extent: dict[str, int]  # fraction ('0.5', '0.9', '0.99') -> side of the centred square holding it
    side: dict[str, float]  # fraction ('0.5', '0.9') -> interpolated side holding it (erf_side)
    centred_mass: list[float]  # share of the gradient inside the centred square of side 1, 3, 5, ...
    inside_theoretical_field: float


@dataclass(frozen=True)
class Run:
    model: str
    seed: int
    field: int
    init: Field
    trained: Field
    test_pixel_accuracy: float


@dataclass(frozen=True)
class FieldSummary:
    extent: dict[str, Summary]  # fraction -> over seeds
    side: dict[str, Summary]  # fraction -> over seeds
    centred_mass_mean: list[float]
    min_inside_theoretical_field: float


@dataclass(frozen=True)
class ModelSummary:
    field: int
    init: FieldSummary
    trained: FieldSummary


@dataclass(frozen=True)
class Maps:
    init: list[list[float]]
    trained: list[list[float]]


@dataclass(frozen=True)
class Results:
    runs: list[Run]
    summary: dict[str, ModelSummary]  # model name -> over seeds
    mean_maps: dict[str, Maps]  # model name -> the normalised field, mean over seeds
    uniform: dict[str, dict[str, int]]  # model name -> fraction -> extent of a uniform spread over the field
    uniform_side: dict[str, dict[str, float]]  # model name -> fraction -> erf_side of a uniform spread


def uniform_extent(field: int, fraction: float) -> int:
    """The odd side of the smallest centred square holding ``fraction`` of a uniform spread over ``field x field``."""
    return next(s for s in range(1, field + 1, 2) if (s / field) ** 2 >= fraction - 1e-12)


def measure(net, images: np.ndarray, field: int) -> tuple[Field, np.ndarray]:
    """Extents, centred-mass curve and the normalised map of ``net``'s effective field on ``images``."""
    with fixed_threads(THREADS):
        erf = effective_receptive_field(net, images)  # (H, W)
    mass = centred_mass(erf)
    measured = Field(
        extent={f"{f:g}": erf_extent(erf, f) for f in FRACTIONS},
        side={f"{f:g}": erf_side(erf, f) for f in SIDE_FRACTIONS},
        centred_mass=mass.tolist(),
        inside_theoretical_field=float(mass[field // 2]),
    )
    return measured, erf / erf.sum()


def run(quick: bool = False) -> dict:
    seeds = SEEDS[:2] if quick else SEEDS
    settings = QUICK_TRAIN if quick else TRAIN
    models = ERF_MODELS[:2] if quick else ERF_MODELS
    runs, maps = [], {}
    for seed in seeds:
        d = data(quick, seed)  # this seed's own training and test draw
        images = d["x_test"]
        for name in models:
            field = FIELDS[name]
            with deterministic(seed):
                fresh = MODELS[name][0]()
            at_init, map_init = measure(fresh, images, field)
            net, trained_run = train_one(name, seed, d, settings)
            trained, map_trained = measure(net, images, field)
            runs.append(Run(name, seed, field, at_init, trained, trained_run.test.pixel_accuracy))
            for state, m in (("init", map_init), ("trained", map_trained)):
                maps.setdefault(name, {}).setdefault(state, []).append(m)
    runs.sort(key=lambda r: (models.index(r.model), r.seed))  # by model, then seed
    summaries, mean_maps, uniform, uniform_side = {}, {}, {}, {}
    for name in models:
        field = FIELDS[name]
        mine = [r for r in runs if r.model == name]
        uniform[name] = {f"{f:g}": uniform_extent(field, f) for f in FRACTIONS}
        uniform_side[name] = {f"{f:g}": erf_side(np.ones((field, field)), f) for f in SIDE_FRACTIONS}
        states = {}
        for state in ("init", "trained"):
            measured = [getattr(r, state) for r in mine]
            states[state] = FieldSummary(
                extent={f"{f:g}": summary([m.extent[f"{f:g}"] for m in measured]) for f in FRACTIONS},
                side={f"{f:g}": summary([m.side[f"{f:g}"] for m in measured]) for f in SIDE_FRACTIONS},
                centred_mass_mean=np.mean([m.centred_mass for m in measured], axis=0).tolist(),
                min_inside_theoretical_field=min(m.inside_theoretical_field for m in measured),
            )
        summaries[name] = ModelSummary(field=field, **states)
        mean_maps[name] = Maps(**{s: np.round(np.mean(maps[name][s], axis=0), 6).tolist() for s in ("init", "trained")})
    return {
        "settings": {
            "seeds": list(seeds),
            "data": DATA,
            "training": settings,
            "models": {name: MODELS[name][1] for name in models},
            "fractions": list(FRACTIONS),
            "measured_on": "each seed's own test images; gradient of the summed class scores at pixel (12, 12), "
            "eval mode",
            "threads": THREADS,
            "device": "cpu",
        },
        "results": Results(
            runs=runs, summary=summaries, mean_maps=mean_maps, uniform=uniform, uniform_side=uniform_side
        ),
    }
