"""Exercise checks say right or not yet, and never print the answer."""

from dlg_helpers.book.checks import Check


def test_a_check_accepts_answers_within_its_tolerance_and_hints_otherwise(capsys):
    check = Check("10.1", expected=0.42, tolerance=0.01, hint="Count faces only.")
    assert check(0.4201)
    assert not check(0.5)
    assert not check(float("nan"))
    out = capsys.readouterr().out
    assert "right." in out and "not yet. Count faces only." in out and "0.42" not in out
    assert Check("x", 0, 0.5, "")(0.2)  # an expected 0 takes the tolerance as absolute


def test_a_check_with_nothing_measured_says_so_rather_than_judging(capsys):
    from dlg_helpers.book.checks import Check

    for nothing in (None, float("nan")):
        assert not Check("9.9", nothing, 0, "hint")(3)
        assert "measured nothing" in capsys.readouterr().out
