"""The chapters as notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from dlg_helpers.book.colab import SETUP_TAG, sync_chapters

ROOT = Path(__file__).resolve().parents[2]


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


TMP = "<tmp>"  # stands for the test's own temporary folder


# Small settings that exercise every code path of a chapter in seconds.
QUICK_PARAMETERS: dict[str, dict[str, object]] = {
    "01_background": {"IMAGE": "coffee"},
    "02_lenet": {"STEPS": 3, "IMAGES": ["cat", "coffee"], "SEEDS": [0], "RESULTS_DIR": TMP,
                 "CHECK_PROSE": False},
    # one image: every model's attack is computed live here (two L-BFGS steps at 224x224)
    "03_resnet18": {"STEPS": 2, "IMAGES": ["cat"], "RESULTS_DIR": "/nonexistent",
                    "CHECK_PROSE": False},
    "04_densenet121": {"STEPS": 2, "MAX_ITER": 2, "IMAGES": ["cat"],
                       "RESULTS_DIR": "/nonexistent", "CHECK_PROSE": False},
    "05_inception_v3": {"STEPS": 1, "MAX_ITER": 1, "RESULTS_DIR": "/nonexistent",
                        "CONTROL_STEPS": 4, "INCEPTION_CONTROL": [128, 1], "WOLFE_STEPS": 1,
                        "CHECK_PROSE": False},
    "06_mse_analysis": {"IMAGES": ["cat", "astronaut"], "LARGE_IMAGES": {"resnet18": ["cat"]},
                        "CHECK_PROSE": False},
    "07_threats": {"IMAGES": ["cat"], "SEEDS": [0, 1], "TRAINED_STEPS": [0, 100],
                   "CHECK_PROSE": False},
    "08_future_work": {"BATCH_SIZES": [1, 2], "RESNET_BATCH_SIZES": [1], "LENET_SIDES": [32],
                       "RESNET_SIDES": [224], "CHECK_PROSE": False},
    "09_defences": {"IMAGES": ["cat"],
                    "DEFENCES": ["none", "gaussian:0.01", "dpsgd:1.0", "batch:2"],
                    "DLG_STEPS": 2, "IG_STEPS": 4, "PUBLISHED_STEPS": 4, "TRAINING_EPOCHS": 1, "TRAINING_SEEDS": 2,
                    "DP_TARGETS": [8.0], "DP_LEARNING_RATES": [0.5], "DP_CLIPS": [1.0],
                    "DP_SEEDS": 1, "DIGITS": ["digit-0"], "RESULTS_DIR": TMP, "CHECK_PROSE": False},
    # the CI's federation: two clients, one round (the stored measurements are loaded)
    "10_federation": {"CLIENTS": [["face-2"], ["digit-5"]], "STEPS": 3, "CHECK_PROSE": False},
    # the stored atlas is read as it is; the live sweep attacks one image for three steps
    "11_success_rates": {"LIVE_IMAGES": 1, "LIVE_STEPS": 3},
    # reads stored tables only: its own parameters are quick
    # the live batch of two short messages; TAG for two steps; the stored tables as they are
    "12_text": {"MESSAGES": 2, "TAG_STEPS": 2, "CHECK_PROSE": False},
    "13_conclusions": {"RESULTS_DIR": "../results"},
    "instructor": {"GPU_FLOPS": 1e12},
    "syllabus": {"CHAPTERS_DIR": "."},
}


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(path, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def test_every_chapter_has_quick_parameters():
    assert {path.stem for path in CHAPTERS} == set(QUICK_PARAMETERS)


def test_every_chapter_has_the_current_colab_setup_cell():
    stale = sync_chapters(CHAPTERS, ROOT / "_config.yml", check=True)
    assert not stale, f"run `python -m dlg_helpers.book.colab` (make book does): {stale}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_executed_with_a_parameters_cell(path):
    cells = _code_cells(path)
    assert SETUP_TAG in cells[0].metadata.get("tags", []), "first code cell: Colab setup"
    assert "remove-cell" in cells[0].metadata["tags"], "the setup cell is hidden in the book"
    assert "parameters" in cells[1].metadata.get("tags", []), "second code cell: parameters"
    assert all(cell.execution_count is not None for cell in cells), "execute before committing"
    errors = [o for cell in cells for o in cell.outputs if o.output_type == "error"]
    assert not errors
    assert any("nbval-check-output" in cell.metadata.get("tags", []) for cell in cells)
    # nbval's markers live in the cells' tags, never in the code a reader sees
    assert not [cell.source for cell in cells if "NBVAL_" in cell.source]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption(path):
    for cell in _code_cells(path):
        if "remove-cell" in cell.metadata.get("tags", []):
            continue  # not in the book (the explorer widget; the animation stands in for it)
        if any({"image/png", "text/html"} & set(output.get("data", {})) for output in cell.outputs):
            caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", "")
            assert caption.strip(), f"figure without a caption in cell:\n{cell.source}"


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_with_quick_parameters(path, tmp_path):
    output = tmp_path / path.name
    parameters = {name: str(tmp_path / "results") if value == TMP else value
                  for name, value in QUICK_PARAMETERS[path.stem].items()}
    papermill.execute_notebook(str(path), str(output), parameters=parameters,
                               cwd=str(path.parent), kernel_name="python3", progress_bar=False)
    executed = json.loads(output.read_text())
    injected = [c for c in executed["cells"]
                if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1


LESSONS = [path for path in CHAPTERS if path.stem[:2].isdigit()]  # the instructor page has none


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_chapter_has_three_exercises_whose_executed_solutions_pass_their_checks(path):
    import re

    cells = nbformat.read(path, as_version=4).cells
    text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    solved = re.findall(r"```\{solution-start\} (\S+)", text)
    assert len(exercises) >= 3, f"{len(exercises)} exercises"
    assert solved == exercises, "every exercise needs its solution, in the same order"
    verdicts = []
    inside = False
    for cell in cells:
        if cell.cell_type == "markdown":
            inside = ("{solution-start}" in cell.source) or (
                inside and "{solution-end}" not in cell.source)
            continue
        if inside:
            printed = "".join(o.get("text", "") for o in cell.get("outputs", []))
            verdicts += re.findall(r"Exercise [\d.]+: (right|not yet)", printed)
    assert verdicts == ["right"] * len(exercises), (
        f"each solution's check must print 'right' in the committed outputs: {verdicts}")
