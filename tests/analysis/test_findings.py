"""The numbers the analysis chapters' prose quotes."""

from dlg_helpers.analysis.findings import lenet_failures


def test_lenet_failures_name_the_runs_not_reconstructed(make_result):
    lenets = {"cat": make_result([1.0, 1e-4, 1e-5]), "dog": make_result([1.0, 0.5, 0.5])}
    # the toy's pictures are blank, so its final MSE reads 0
    assert lenet_failures(lenets, 2) == "dog (its MSE 0)"
    assert lenet_failures({"cat": lenets["cat"]}, 2) == "none"


def test_gaps_read_as_a_sentence_says_them():
    from dlg_helpers.analysis.findings import gap_text

    assert gap_text(5.12) == "5.1 orders of magnitude above"
    assert gap_text(-1.8) == "1.8 orders of magnitude below"
    assert gap_text(-0.1, short=True) == "0.1 below"
    assert gap_text(1.02) == "1.0 order of magnitude above" and gap_text(0.01) == "level"
