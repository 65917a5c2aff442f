"""Audit mode's policy: the film's own measured errors say which finals may go unmeasured and how high those aim.

The arithmetic exactly (pure logic); the strategy's use of it runs in tests/test_encode.py on real encodes."""

from __future__ import annotations

import math
import statistics

from drapto_tui.quality.audit import EVERY, LEARN, AuditPolicy, Z


def _policy(errors: list[float]) -> AuditPolicy:
    policy = AuditPolicy(floor=92.5, ceiling=94.0)
    for e in errors:
        policy.record(93.5, 93.5 + e)
    return policy


def test_every_final_is_measured_until_the_film_has_shown_its_errors() -> None:
    policy = _policy([0.1] * (LEARN - 1))
    assert not policy.learned and policy.margin() is None
    assert all(policy.measures(i) for i in range(1, 20))  # nothing left unmeasured yet
    assert policy.unmeasured_aim(93.5) == 93.5 and not policy.too_loose()


def test_then_one_in_four_is_measured_and_the_rest_aim_clear_of_the_floor_by_the_spread() -> None:
    errors = [0.4, -0.5, 0.2, -0.3, 0.6, -0.1, 0.0, -0.4]  # sd 0.36: a film predicted as issue 24's is
    policy = _policy(errors)
    assert policy.learned
    assert [i for i in range(12) if policy.measures(i)] == [i for i in range(12) if i % EVERY == 0]
    margin = Z * statistics.pstdev(errors) - statistics.fmean(errors)
    assert math.isclose(policy.margin() or 0, margin)
    # 92.5 + 0.86: a miss Z spreads deep still lands on the floor; never below the controller's own aim.
    assert math.isclose(policy.unmeasured_aim(93.0), 92.5 + margin) and policy.unmeasured_aim(93.6) == 93.6
    assert not policy.too_loose()


def test_finals_that_land_above_their_predictions_need_less_margin() -> None:
    low, high = _policy([-0.3, -0.1, -0.2, -0.4, -0.2, -0.3]), _policy([0.3, 0.1, 0.2, 0.4, 0.2, 0.3])
    assert high.unmeasured_aim(92.0) < low.unmeasured_aim(92.0)


def test_while_predictions_are_too_loose_for_the_window_every_final_is_measured() -> None:
    """sd 0.9: an unmeasured final would have to aim above target + tolerance (94), so none is left; as the
    film's later errors settle (one odd segment among the first six, as on issue 24's film), 1 in 4 again."""
    policy = _policy([1.0, -1.0, 0.8, -0.9, 0.9, -0.8])
    assert policy.too_loose() and policy.spread() > 0.8
    assert all(policy.measures(i) for i in range(1, 12))
    odd_one = _policy([0.1, -0.2, -1.8, 0.2, 0.0, -0.1])
    assert odd_one.too_loose()
    for e in [0.1, -0.2, 0.2, 0.0, -0.1, 0.1, 0.2, -0.2, 0.0, 0.1, -0.1, 0.0]:
        odd_one.record(93.5, 93.5 + e)
    assert not odd_one.too_loose() and not odd_one.measures(5)
    assert 92.5 + 1.0 < odd_one.unmeasured_aim(93.0) < 94.0  # the odd one still widens the margin
