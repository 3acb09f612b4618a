"""The batch's aggregated network (classes of identical needs, trees whose idle nodes are left
out, covers found in numpy) against a network with one arc per referral and feasible time."""

import datetime as dt
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.graph.python import min_cost_flow

from scheduling.matching import Need, SlotTable, slot_cost, unmatched_points, week_start_on
from scheduling.matching_batch import after_proposals, assign_batch
from tests.scheduling.test_matching_engine import (
    NOW,
    WEIGHTS,
    _clinician,
    _fields,
    assert_assignment_is_feasible,
    assert_each_tier_is_optimal,
    breaches,
    clinicians,
    exhaustive_cost,
    hour,
    needs,
    slot_rows,
)

MEDIUM = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def direct_cost(needs_, profiles, rows) -> int:
    """The optimum of one tier by a plain network: an arc from each referral to each time it
    may take, times to their clinician week, weeks to the sink, and each referral's penalty
    arc. Nothing aggregated, so it checks the batch's trees and classes independently."""
    if not needs_:
        return 0
    by_id = {p.clinician_id: p for p in profiles}
    weeks: dict[tuple, int] = {}
    tails, heads, capacities, costs = [], [], [], []
    slot_base = len(needs_)
    week_base = slot_base + len(rows)
    for position, need in enumerate(needs_):
        for index, (slot_id, clinician_id, starts_at, _ends_at) in enumerate(rows):
            if breaches(need, by_id, rows, slot_id):
                continue
            cost = slot_cost(need, by_id[clinician_id], starts_at, now=NOW, weights=WEIGHTS)
            tails.append(position)
            heads.append(slot_base + index)
            capacities.append(1)
            costs.append(cost.total)
    for index, (_slot_id, clinician_id, starts_at, _ends_at) in enumerate(rows):
        week = (clinician_id, week_start_on(starts_at, by_id[clinician_id].time_zone))
        weeks.setdefault(week, len(weeks))
        tails.append(slot_base + index)
        heads.append(week_base + weeks[week])
        capacities.append(1)
        costs.append(0)
    sink = week_base + len(weeks)
    for (clinician_id, monday), index in weeks.items():
        profile = by_id[clinician_id]
        tails.append(week_base + index)
        heads.append(sink)
        capacities.append(max(0, profile.weekly_capacity - profile.booked_by_week.get(monday, 0)))
        costs.append(0)
    for position, need in enumerate(needs_):
        tails.append(position)
        heads.append(sink)
        capacities.append(1)
        costs.append(unmatched_points(need, WEIGHTS))
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        *(np.array(column, np.int64) for column in (tails, heads, capacities, costs))
    )
    supplies = np.zeros(sink + 1, np.int64)
    supplies[: len(needs_)] = 1
    supplies[sink] = -len(needs_)
    solver.set_nodes_supplies(np.arange(sink + 1), supplies)
    assert solver.solve() == solver.OPTIMAL
    return solver.optimal_cost()


@st.composite
def with_copies(draw, needs_: list[Need], most: int) -> list[Need]:
    """`needs_` and copies of some of them (a new id and a later order, nothing else)."""
    copies = draw(st.lists(st.sampled_from(needs_), max_size=most))
    top = max(n.referral_id for n in needs_)
    return needs_ + [
        Need(**{**_fields(n), "referral_id": top + i + 1, "order": top + i + 1})
        for i, n in enumerate(copies)
    ]


@st.composite
def many_slots(draw, clinician_count: int):
    """Enough times that a tree has many blocks: every clinician, all week, for two weeks."""
    picks = draw(
        st.lists(
            st.tuples(st.integers(1, clinician_count), st.integers(0, 24 * 16)),
            min_size=40,
            max_size=90,
            unique=True,
        )
    )
    return [
        (i + 1, clinician, hour(h), hour(h) + dt.timedelta(hours=1))
        for i, (clinician, h) in enumerate(picks)
    ]


@st.composite
def medium_instances(draw, *, shared_covers: bool = False):
    """Referrals with copies of some of them, or (`shared_covers`) with variants of one."""
    count = draw(st.integers(6 if shared_covers else 4, 10))
    needs_ = draw(needs(count, 4 if shared_covers else 14))
    needs_ = draw(with_variants(needs_, 12) if shared_covers else with_copies(needs_, 14))
    return needs_, draw(clinicians(count)), draw(many_slots(count))


def assert_it_costs_what_a_network_of_every_referral_and_time_does(instance) -> None:
    needs_, profiles, rows = instance
    result = assign_batch(needs_, profiles, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS)
    assert_assignment_is_feasible(result, needs_, profiles, rows)
    assert len(result.proposals) + len(result.unmatched) == len(needs_)
    assert_each_tier_is_optimal(result, needs_, profiles, rows, optimum=direct_cost)


@MEDIUM
@given(medium_instances())
def test_the_aggregated_batch_costs_what_a_network_of_every_referral_and_time_does(instance):
    assert_it_costs_what_a_network_of_every_referral_and_time_does(instance)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_identical_referrals_with_unique_ones_match_exhaustive_search(data):
    count = data.draw(st.integers(1, 4))
    needs_ = data.draw(with_copies(data.draw(needs(count, 2)), 3))
    profiles = data.draw(clinicians(count))
    rows = data.draw(slot_rows(count, 10))
    table = SlotTable.from_rows(rows)
    result = assign_batch(needs_, profiles, table, now=NOW, weights=WEIGHTS)
    assert_assignment_is_feasible(result, needs_, profiles, rows)
    priority = [n for n in needs_ if n.is_priority]
    routine = [n for n in needs_ if not n.is_priority]
    ids = {n.referral_id for n in priority}
    first = [p for p in result.proposals if p.referral_id in ids]
    left_profiles, _left = after_proposals(profiles, table, first, now=NOW, weights=WEIGHTS)
    left_rows = [r for r in rows if r[0] not in {p.slot_id for p in first}]
    assert result.total_cost == exhaustive_cost(priority, profiles, rows) + exhaustive_cost(
        routine, left_profiles, left_rows
    )


def test_within_a_class_of_identical_referrals_the_oldest_gets_the_earliest_time():
    rows = [(1, 1, hour(80), hour(81)), (2, 1, hour(30), hour(31))]
    needs_ = [Need(5, 1, 24, order=2), Need(9, 1, 24, order=1), Need(7, 1, 24, order=3)]
    table = SlotTable.from_rows(rows)
    result = assign_batch(needs_, [_clinician(1)], table, now=NOW, weights=WEIGHTS)
    assert {p.referral_id: p.slot_id for p in result.proposals} == {9: 2, 5: 1}
    assert [u.referral_id for u in result.unmatched] == [7]


def test_many_identical_referrals_fill_every_week_they_may_use_and_no_more():
    starts = [hour(30 + 24 * day) for day in range(14)]
    rows = [(i + 1, 1, s, s + dt.timedelta(hours=1)) for i, s in enumerate(starts)]
    needs_ = [Need(i, 1, 24, order=i) for i in range(1, 41)]
    clinician = _clinician(1, weekly_capacity=3)
    result = assign_batch(needs_, [clinician], SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS)
    assert_assignment_is_feasible(result, needs_, [clinician], rows)
    weeks = Counter(week_start_on(s, clinician.time_zone) for s in starts)
    assert len(result.proposals) == sum(min(3, times) for times in weeks.values())
    oldest = sorted(result.proposals, key=lambda p: p.referral_id)
    assert [p.referral_id for p in oldest] == list(range(1, len(result.proposals) + 1))
    assert [p.starts_at for p in oldest] == sorted(p.starts_at for p in oldest)


@st.composite
def with_variants(draw, needs_: list[Need], most: int) -> list[Need]:
    """`needs_` and variants of one of them, for any time and leaving out a district, that
    differ only in a facility no clinician works at: not one class, but every tree treats
    them alike, so they use the same covers (which then get a node of their own)."""
    need = draw(st.sampled_from(needs_))
    districts = frozenset(draw(st.sets(st.sampled_from([10, 11, 12]), min_size=1, max_size=2)))
    top = max(n.referral_id for n in needs_)
    return needs_ + [
        Need(
            **{
                **_fields(need),
                "referral_id": top + i + 1,
                "order": top + i + 1,
                "windows": (),
                "excluded_district_ids": districts,
                "excluded_facility_ids": frozenset({900 + i}),
            }
        )
        for i in range(draw(st.integers(2, most)))
    ]


@MEDIUM
@given(medium_instances(shared_covers=True))
def test_referrals_that_share_a_cover_cost_what_a_network_of_every_referral_and_time_does(
    instance,
):
    assert_it_costs_what_a_network_of_every_referral_and_time_does(instance)


def test_referrals_from_one_district_all_get_times_outside_it_through_a_shared_cover():
    districts = [10, 10, 11, 11, 12, 12]
    profiles = [
        _clinician(i + 1, district_ids=frozenset({d}), weekly_capacity=1)
        for i, d in enumerate(districts)
    ]
    rows = [(i + 1, i + 1, hour(30 + i), hour(31 + i)) for i in range(len(profiles))]
    needs_ = [
        Need(
            i,
            1,
            24,
            excluded_district_ids=frozenset({11}),
            excluded_facility_ids=frozenset({900 + i}),
        )
        for i in range(1, 6)
    ]
    result = assign_batch(needs_, profiles, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS)
    assert_assignment_is_feasible(result, needs_, profiles, rows)
    assert sorted(p.clinician_id for p in result.proposals) == [1, 2, 5, 6]
    assert len(result.unmatched) == 1
    assert result.total_cost == direct_cost(needs_, profiles, rows)
