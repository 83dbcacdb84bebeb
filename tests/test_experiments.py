"""The reference experiments: the framework (convbook.lab.results), every experiment's smoke run, every stored file.

A chapter's checked cells assert its claims on reference results (``convbook.lab.results.load_reference``), read
into the types its experiment declares; these tests make sure that every stored file loads into those types,
carries its provenance and names the command that made it, that every file a notebook reads exists, and that
each experiment still runs and saves.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from convbook.lab import experiments, results, stats
from convbook.lab.experiments import __main__ as cli
from convbook.lab.results import COMMAND, REFERENCE_DIR, RESULTS_DIR, SCHEMA, load, load_reference, save
from convbook.lab.typed import Curve, Difference, Summary, from_json, to_json

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
# load_reference("NAME") or load_reference("NAME", "VARIANT"), both literal (a variable variant is not followed)
READS = re.compile(r"load_reference\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*(?:,\s*['\"]([A-Za-z0-9_-]+)['\"]\s*)?\)")
STORED = sorted(REFERENCE_DIR.rglob("*.json"))


def _read_by_notebooks() -> dict[tuple[str, str | None], list[str]]:
    read: dict[tuple[str, str | None], list[str]] = {}
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for name, variant in READS.findall(src) if cell["cell_type"] == "code" else []:
                read.setdefault((name, variant or None), []).append(str(path.relative_to(ROOT)))
    return read


def _assert_kept(stored, typed, where: str):
    """Every value of the stored JSON is in the typed reading, unchanged (numbers of the same kind)."""
    if isinstance(stored, dict):
        assert isinstance(typed, dict) and stored.keys() <= typed.keys(), f"{where}: keys lost"
        for k, v in stored.items():
            _assert_kept(v, typed[k], f"{where}.{k}")
    elif isinstance(stored, list):
        assert isinstance(typed, list) and len(typed) == len(stored), f"{where}: list changed"
        for i, (a, b) in enumerate(zip(stored, typed)):
            _assert_kept(a, b, f"{where}[{i}]")
    else:
        assert type(stored) is type(typed) and stored == typed, f"{where}: {stored!r} read as {typed!r}"


# ---- the small statistics


def test_statistics():
    assert stats.mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    s = stats.summary([1.0, 2.0, 3.0, 4.0, 5.0])
    assert isinstance(s, Summary) and s.n == 5 and s.sd == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    half = 2.776 * s.sd / np.sqrt(5)
    assert s.ci95 == pytest.approx((3 - half, 3 + half))
    assert stats.t_quantile_975(11) == 2.228 and stats.t_quantile_975(500) == 1.960
    with pytest.raises(ValueError, match="mean_sd: need at least 2 values"):
        stats.mean_sd([1.0])
    with pytest.raises(ValueError, match="t_quantile_975: df must be a positive int, got 0"):
        stats.t_quantile_975(0)
    with pytest.raises(TypeError, match="t_quantile_975: df must be a positive int, got float"):
        stats.t_quantile_975(2.5)


def test_welch_interval():
    w = stats.welch([1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 1.0, 2.0, 3.0, 4.0])
    assert isinstance(w, Difference) and w.diff == pytest.approx(1.0) and w.df == pytest.approx(8.0)
    half = 2.306 * np.sqrt(2.5 / 5 + 2.5 / 5)  # t(0.975, 8) * standard error
    assert w.ci95 == pytest.approx((1 - half, 1 + half))
    assert stats.welch([1.0, 1.0], [0.0, 0.0]) == Difference(diff=1.0, ci95=(1.0, 1.0), df=None)
    with pytest.raises(ValueError, match="welch: need at least 2 values on each side, got 1 and 2"):
        stats.welch([1.0], [1.0, 2.0])


def test_learning_curve():
    runs = [{"history": [{"epoch": 1, "a": 0.0}, {"epoch": 2}, {"epoch": 3, "a": v}]} for v in (1.0, 3.0)]
    c = stats.learning_curve(runs, "a")
    assert c == Curve(epoch=[1, 3], mean=[0.0, 2.0], sd=[0.0, pytest.approx(np.sqrt(2))])
    with pytest.raises(ValueError, match="learning_curve: key 'b' is in no history record"):
        stats.learning_curve(runs, "b")


# ---- typed reading


def test_a_renamed_key_fails_to_load_naming_its_path(tmp_path):
    data = json.loads(results.reference_path("separable_accuracy").read_text(encoding="utf-8"))
    summ = data["results"]["summary"]["hard/converged"]["separable"]
    summ["test_accuracy"] = summ.pop("test")
    path = tmp_path / "renamed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"separable_accuracy\.results\.summary\['hard/converged'\]\['separable'\]"):
        load(path)
    with pytest.raises(ValueError, match="has keys that RunSummary does not declare: \\['test_accuracy'\\]"):
        load(path)
    del summ["test_accuracy"]
    with pytest.raises(ValueError, match="lacks the key 'test' that RunSummary requires"):
        save(data, tmp_path / "not-written.json")
    assert not (tmp_path / "not-written.json").exists()


def test_a_wrong_value_type_names_its_path():
    @dataclasses.dataclass(frozen=True)
    class Point:
        x: float
        tags: dict[str, int]

    assert from_json(Point, {"x": 1, "tags": {"a": 2}}) == Point(1.0, {"a": 2})
    with pytest.raises(ValueError, match=r"from_json: p\.tags\['a'\] must be an integer, got 2.5"):
        from_json(Point, {"x": 1, "tags": {"a": 2.5}}, "p")
    with pytest.raises(ValueError, match=r"from_json: p\.x must be a number, got True"):
        from_json(Point, {"x": True, "tags": {}}, "p")
    assert to_json(Point(1.0, {"a": np.int64(2)})) == {"x": 1.0, "tags": {"a": 2}}


def test_another_result_version_names_the_command_that_regenerates_it(tmp_path, monkeypatch):
    from convbook.lab.experiments import ch1_timing

    newer = ch1_timing.RESULT_VERSION + 1
    monkeypatch.setattr(ch1_timing, "RESULT_VERSION", newer)
    with pytest.raises(ValueError, match=f"RESULT_VERSION = {newer}; regenerate it with: {COMMAND} ch1_timing"):
        load_reference("ch1_timing")


def test_the_envelope_is_checked(tmp_path):
    data = json.loads(results.reference_path("ch1_timing").read_text(encoding="utf-8"))
    for change, message in [
        ({"schema": "convbook-experiment/1"}, f"is not a {SCHEMA} file"),
        ({"extra": 1}, r"has unknown keys \['extra'\]"),
        ({"name": "nothing"}, "names the experiment 'nothing', which does not exist"),
        ({"quick": "no"}, r"ch1_timing\.quick must be a bool"),
    ]:
        with pytest.raises(ValueError, match=message):
            save({**data, **change}, tmp_path / "x.json")
    command = {**data["provenance"], "command": "make it"}
    with pytest.raises(ValueError, match="provenance.command must be the 'python -m convbook.lab.experiments'"):
        save({**data, "provenance": command}, tmp_path / "x.json")
    with pytest.raises(TypeError, match="save: result must be a Reference or a dict, got list"):
        save([data], tmp_path / "x.json")


def test_a_run_that_returns_a_wrong_layout_fails_when_it_saves(monkeypatch):
    from convbook.lab.experiments import ch1_timing

    monkeypatch.setattr(ch1_timing, "run", lambda quick: {"settings": {}, "results": {}})
    with pytest.raises(ValueError, match="ch1_timing.settings lacks the key 'layer' that Settings requires"):
        results.run_experiment("ch1_timing", quick=True)
    monkeypatch.setattr(ch1_timing, "run", lambda quick: {"results": {}})
    with pytest.raises(ValueError, match=r"ch1_timing.run\(\) must return a dict of settings, results"):
        results.run_experiment("ch1_timing", quick=True)


def test_unknown_experiment_is_a_clear_error(capsys):
    with pytest.raises(ValueError, match="module: name must be one of"):
        experiments.describe("no_such_experiment")
    with pytest.raises(ValueError, match="load_reference: name must be one of"):
        load_reference("no_such_experiment")
    with pytest.raises(SystemExit):
        cli.main(["no_such_experiment"])
    assert "unknown experiment(s) ['no_such_experiment']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--quick", experiments.available()[0]])  # quick results are never references
    assert "--quick results are not references" in capsys.readouterr().err


def test_missing_reference_names_its_command(monkeypatch, tmp_path):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=f"make it with: {COMMAND} ch1_timing"):
        load_reference("ch1_timing")
    with pytest.raises(ValueError, match="reference_path: variant must be None or a name without"):
        results.reference_path("bench", "../x")


def test_a_quick_result_is_no_reference(monkeypatch, tmp_path):
    data = json.loads(results.reference_path("ch1_timing").read_text(encoding="utf-8"))
    (tmp_path / "ch1_timing.json").write_text(json.dumps({**data, "quick": True}), encoding="utf-8")
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    with pytest.raises(ValueError, match="was made with --quick; rerun without it"):
        load_reference("ch1_timing")


# ---- the shared protocol of separable_accuracy (separable_trained_fit and pointwise_cheap_depth use it too)


def test_separable_accuracy_draws_data_per_seed_and_judges_the_plateau_on_the_training_loss():
    from convbook.lab.experiments import separable_accuracy as sa

    shared, s0, s1 = (sa.data("hard", 8, 4, seed=s)[0][0] for s in (None, 0, 1))
    assert sa.data_seeds(None) == sa.DATA_SEEDS and sa.data_seeds(3) == (sa.DATA_SEED_BASE + 6, sa.DATA_SEED_BASE + 7)
    assert not np.array_equal(shared, s0) and not np.array_equal(s0, s1)  # each seed its own draw
    flat = [{"train_loss": 0.3 + 0.001 * (i % 2)} for i in range(10)]
    falling = [{"train_loss": 1.0 - 0.02 * i} for i in range(10)]  # 0.1 nats lower per 5 epochs
    assert sa.plateaued(flat) and not sa.plateaued(falling) and not sa.plateaued(flat[:9])
    no_relu, mobilenet = sa.build("separable_no_relu"), sa.build("separable")
    relus = [sum(isinstance(m, torch.nn.ReLU) for m in net.modules()) for net in (no_relu, mobilenet)]
    batch_norms = [sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) for net in (no_relu, mobilenet)]
    assert relus == [3, 5] and batch_norms == [5, 5]  # only the ReLU between the two steps is gone


# ---- every experiment and every stored file


@pytest.mark.parametrize("name", experiments.available())
def test_every_experiment_declares_its_layout(name):
    module = experiments.module(name)
    assert module.DESCRIPTION.strip()
    assert isinstance(module.RESULT_VERSION, int) and module.RESULT_VERSION >= 1
    for kind in ("Settings", "Results"):
        assert dataclasses.is_dataclass(getattr(module, kind, None)), f"{name} must declare a dataclass {kind}"


@pytest.mark.parametrize("path", STORED, ids=[p.name for p in STORED])
def test_every_stored_file_loads_into_its_types(path):
    assert path.parent == RESULTS_DIR, "one directory for stored results"
    ref = load(path)
    assert path.name == (f"{ref.name}.{ref.variant}.json" if ref.variant else f"{ref.name}.json")
    assert not ref.quick
    assert ref.provenance.command.startswith(f"{COMMAND} {ref.name}")
    assert ref.provenance.machine.cpu_model
    assert ref.provenance.versions["torch"] and ref.provenance.versions["numpy"]
    seeds = getattr(ref.settings, "seeds", None)
    if seeds is not None:
        assert len(seeds) >= 5 and len(set(seeds)) == len(seeds), "at least 5 distinct seeds"
    _assert_kept(json.loads(path.read_text(encoding="utf-8")), to_json(ref), path.name)


def test_every_reference_a_notebook_reads_exists():
    read = _read_by_notebooks()
    assert read, "the notebooks read reference results"
    for (name, variant), pages in read.items():
        assert name in experiments.available(), f"{pages} read {name!r}, which is no experiment"
        load_reference(name, variant)  # exists, loads into its types, not a quick run
    stale = sorted(p.name for p in STORED if p.name.split(".")[0] not in experiments.available())
    assert not stale, f"reference files of no experiment: {stale}"


@pytest.mark.slow
@pytest.mark.parametrize("name", experiments.available())
def test_every_experiment_runs_quickly_in_smoke_mode(name, tmp_path):
    out = tmp_path / f"{name}.json"
    options = ["--only", "pointwise", "--no-naive"] if name == "bench" else []
    assert cli.main([name, "--quick", *options, "--out", str(out)]) == 0
    ref = load(out)
    assert ref.quick is True and ref.name == name
    assert ref.provenance.command.startswith(f"{COMMAND} {name} --quick")
    assert ref.provenance.load_average is not None and ref.wall_seconds is not None
