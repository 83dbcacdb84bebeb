"""The figure check (convbook.plotting.figcheck) finds unlabelled axes and overlapping text, and passes good figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from convbook.plotting.figcheck import figure_problems, main  # noqa: E402


def test_a_labelled_figure_passes():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="line")
        ax.set_xlabel("x (px)")
        ax.legend()
    axes[0].set_ylabel("y (px)")  # the shared y axis of the second panel counts as labelled
    fig.suptitle("A good figure")
    image_fig, ax = plt.subplots()
    ax.imshow(np.eye(3))
    ax.axis("off")
    ax.set_title("an image with a title")
    assert figure_problems(fig) == [] and figure_problems(image_fig) == []
    plt.close("all")


def test_missing_labels_and_titles_are_reported():
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1])
    a.set_title("no labels")
    b.imshow(np.eye(2))
    b.axis("off")
    problems = figure_problems(fig)
    assert "axes 'no labels' has no x label (at row 0, column 0)" in problems
    assert "axes 'no labels' has no y label (at row 0, column 0)" in problems
    assert "an image axes (axis off) has no title (at row 0, column 1)" in problems
    plt.close(fig)


def test_overlapping_text_is_reported():
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.text(0.5, 0.5, "first words here", transform=ax.transAxes)
    ax.text(0.52, 0.5, "second words here", transform=ax.transAxes)
    problems = figure_problems(fig)
    assert any(p.startswith("text overlaps text:") and "first words" in p and "second words" in p for p in problems)
    plt.close(fig)


def test_crowded_tick_labels_are_reported():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.bar(range(6), range(6))
    ax.set_xticks(range(6), [f"a long category name {i}" for i in range(6)])
    ax.set_xlabel("category")
    ax.set_ylabel("count")
    assert any("x tick label" in p for p in figure_problems(fig))
    plt.close(fig)


def test_report_command(tmp_path, capsys):
    report = tmp_path / "r.txt"
    assert main([str(report)]) == 1  # no report: nothing was checked
    report.write_text("# checked: a kernel started in /x\n")
    assert main([str(report)]) == 0
    report.write_text("# checked: a kernel started in /x\n/x, the cell ...: axes 'a' has no x label\n")
    assert main([str(report)]) == 1
    assert "1 problem(s)" in capsys.readouterr().err
