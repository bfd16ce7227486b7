"""Text recovery scored: sentences exact as multisets, tokens in place after pairing."""

from dlg_helpers.measures.text_recovery import score_text


def test_exact_sentences_count_as_multisets_and_tokens_count_in_place():
    truth = [[1, 2, 3], [1, 2, 3], [7, 8]]
    score = score_text([[1, 2, 3], [7, 9], [5]], truth)
    assert (score.exact, score.sentences) == (1, 3)  # two identical messages need two recoveries
    # [1,2,3] pairs with one copy (3 in place), [7,9] with [7,8] (1), [5] with the other copy (0)
    assert (score.tokens, score.total_tokens) == (4, 8)
    assert score.exact_rate == 1 / 3 and score.token_rate == 0.5
    assert score_text([], truth).tokens == 0
