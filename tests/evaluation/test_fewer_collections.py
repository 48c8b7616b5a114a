"""While an evaluation judges, the garbage collector runs less often; its thresholds are put back after."""

import gc

import pytest

from apps.evaluation.judging import GC_THRESHOLD, fewer_collections


def test_the_first_threshold_is_raised_while_judging_and_put_back_after_the_last_block():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 11, 12)
        with fewer_collections():
            assert gc.get_threshold() == (GC_THRESHOLD, 11, 12)
            with fewer_collections():  # another evaluation at the same time
                assert gc.get_threshold() == (GC_THRESHOLD, 11, 12)
            assert gc.get_threshold() == (GC_THRESHOLD, 11, 12)
        assert gc.get_threshold() == (700, 11, 12)
        with pytest.raises(ValueError), fewer_collections():
            raise ValueError("an evaluation that fails")
        assert gc.get_threshold() == (700, 11, 12)
        gc.set_threshold(50_000, 10, 10)  # a higher threshold set by the process stays
        with fewer_collections():
            assert gc.get_threshold() == (50_000, 10, 10)
    finally:
        gc.set_threshold(*before)
