"""The reference experiments: the framework, every experiment's smoke run, and every stored reference result.

A chapter's checked cells assert its claims on reference results
(``convbook.lab.experiments.load_reference(NAME)``); these tests make sure that each
file a notebook reads exists, parses, carries its provenance and names the
command that made it, and that each experiment still runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from convbook.lab import experiments
from convbook.lab.experiments import __main__ as cli

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
READS = re.compile(r"load_reference\(\s*['\"]([A-Za-z0-9_]+)['\"]")


def _names_read_by_notebooks() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for name in READS.findall(src) if cell["cell_type"] == "code" else []:
                names.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return names


def test_statistics():
    assert experiments.mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    s = experiments.summary([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s["n"] == 5 and s["sd"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    half = 2.776 * s["sd"] / np.sqrt(5)
    assert s["ci95"] == pytest.approx([3 - half, 3 + half])
    assert experiments.t_quantile_975(11) == 2.228 and experiments.t_quantile_975(500) == 1.960
    with pytest.raises(ValueError, match="mean_sd: need at least 2 values"):
        experiments.mean_sd([1.0])
    with pytest.raises(ValueError, match="t_quantile_975: df must be a positive int"):
        experiments.t_quantile_975(0)


def test_validate_names_what_is_missing():
    good = {
        "schema": experiments.SCHEMA,
        "name": "x",
        "description": "d",
        "settings": {},
        "results": {},
        "provenance": {k: "python -m convbook.lab.experiments x" for k in experiments.PROVENANCE_KEYS},
    }
    experiments.validate(good)
    with pytest.raises(ValueError, match="missing top-level key 'results'"):
        experiments.validate({k: v for k, v in good.items() if k != "results"})
    partial = {k: v for k, v in good["provenance"].items() if k != "git_commit"}
    with pytest.raises(ValueError, match=r"provenance lacks \['git_commit'\]"):
        experiments.validate({**good, "provenance": partial})
    with pytest.raises(ValueError, match="provenance.command must be the 'python -m convbook.lab.experiments"):
        experiments.validate({**good, "provenance": {**good["provenance"], "command": "make it"}})
    with pytest.raises(ValueError, match="not a convbook-experiment/1 file"):
        experiments.validate({"schema": "other"})


def test_unknown_experiment_is_a_clear_error(capsys):
    with pytest.raises(ValueError, match="experiment name must be one of"):
        experiments.describe("no_such_experiment")
    with pytest.raises(SystemExit):
        cli.main(["no_such_experiment"])
    assert "unknown experiment(s) ['no_such_experiment']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--quick", *experiments.available()[:1]])  # quick results are never references
    assert "--quick results are not references" in capsys.readouterr().err


def test_missing_reference_names_its_command(monkeypatch, tmp_path):
    monkeypatch.setattr(experiments, "RESULTS_DIR", tmp_path)
    name = "anything"
    with pytest.raises(FileNotFoundError, match=f"python -m convbook.lab.experiments {name}"):
        experiments.load_reference(name)


def test_there_are_experiments_and_each_is_described():
    names = experiments.available()
    assert names, "convbook.lab.experiments should hold the book's experiments"
    for name in names:
        assert experiments.describe(name).strip()


@pytest.mark.parametrize("name", experiments.available())
def test_every_experiment_has_a_valid_stored_reference(name):
    data = experiments.load_reference(name)
    assert data["name"] == name
    assert data["provenance"]["command"] == f"python -m convbook.lab.experiments {name}"
    assert data["provenance"]["machine"]["cpu_model"]
    assert data["provenance"]["versions"]["torch"] and data["provenance"]["versions"]["numpy"]
    seeds = data["settings"].get("seeds")
    if seeds is not None:
        assert len(seeds) >= 5 and len(set(seeds)) == len(seeds), "at least 5 distinct seeds"


def test_every_reference_a_notebook_reads_exists():
    read = _names_read_by_notebooks()
    for name, pages in read.items():
        assert name in experiments.available(), f"{pages} read {name!r}, which is no experiment"
        experiments.load_reference(name)  # exists, parses, validated, not a quick run
    stored = {p.stem for p in experiments.RESULTS_DIR.glob("*.json")}
    stale = sorted(stored - set(experiments.available()))
    assert not stale, f"reference files of no experiment: {stale}"


@pytest.mark.parametrize("name", experiments.available())
def test_every_experiment_runs_quickly_in_smoke_mode(name, tmp_path):
    out = tmp_path / f"{name}.json"
    assert cli.main([name, "--quick", "--out", str(out)]) == 0
    data = experiments.validate(json.loads(out.read_text(encoding="utf-8")))
    assert data["quick"] is True and data["provenance"]["command"].endswith(f"{name} --quick")
