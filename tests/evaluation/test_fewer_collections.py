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


def test_a_judged_chunk_is_freed_by_reference_counting():
    from datetime import UTC, datetime

    from apps.evaluation.facts import FactChunk
    from apps.evaluation.judging import release
    from apps.evaluation.rules.base import CredentialFacts, IdentityFacts

    now = datetime(2026, 11, 1, tzinfo=UTC)
    identity = IdentityFacts(1, 1, "AIDA1", "u", "human", now, False, True, "", {}, {})
    credential = CredentialFacts(
        2, 1, "aws_iam", "access_key", "AKIA1", "AKIA1", "standard", True, now, None, None, None, None, None, None, None, None, None,
        "", {}, {}, identity,
    )  # fmt: skip
    identity.credentials.append(credential)
    gc.collect()
    gc.disable()
    try:
        chunk = FactChunk([credential], [identity])
        release(chunk)
        assert identity.credentials == []
        del chunk, identity, credential
        assert gc.collect() == 0  # nothing of the chunk was left for the cyclic collector
    finally:
        gc.enable()
