"""While an evaluation judges, the garbage collector runs less often; its thresholds are put back after."""

import gc
import weakref

import pytest

from apps.evaluation.collection_pause import GC_THRESHOLD, fewer_collections


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

    from apps.evaluation.collection_pause import release
    from apps.evaluation.facts import FactChunk
    from apps.evaluation.rules.base import CredentialFacts, IdentityFacts

    class Marker:  # a weakly referenceable object held inside each fact (the facts have slots, no weakref)
        pass

    now = datetime(2026, 11, 1, tzinfo=UTC)
    identity_marker, credential_marker = Marker(), Marker()
    identity = IdentityFacts(1, 1, "AIDA1", "u", "human", now, False, True, "", {"m": identity_marker}, {})
    credential = CredentialFacts(
        2, 1, "aws_iam", "access_key", "AKIA1", "AKIA1", "standard", True, now, None, None, None, None, None, None, None, None, None,
        "", {"m": credential_marker}, {}, identity,
    )  # fmt: skip
    identity.credentials.append(credential)
    alive = [weakref.ref(identity_marker), weakref.ref(credential_marker)]
    del identity_marker, credential_marker
    gc.disable()
    try:
        chunk = FactChunk([credential], [identity])
        release(chunk)
        assert identity.credentials == []
        del chunk, identity, credential
        # Freed at once by reference counting, with the cyclic collector off (other garbage of
        # the process, such as a server thread's, does not count here).
        assert [ref() for ref in alive] == [None, None]
    finally:
        gc.enable()
