"""The pure matching engine: hard constraints hold, the batch is exact, costs add up."""

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from referrals.windows import WINDOW_KEYS
from scheduling.matching import (
    ClinicianProfile,
    Constraint,
    Need,
    SlotTable,
    SlotView,
    Weights,
    breached_constraints,
    emptied_by,
    fairness_load,
    match_single,
    slot_cost,
    unmatched_points,
    week_start_on,
)
from scheduling.matching_batch import after_proposals, assign_batch, assign_greedy

NOW = dt.datetime(2026, 3, 30, 22, 17, 5, tzinfo=dt.UTC)  # DST ends in Sydney that Sunday
WEIGHTS = Weights()
ZONES = ["Australia/Sydney", "Australia/Perth", "Australia/Brisbane"]


def hour(hours: int) -> dt.datetime:
    return NOW.replace(minute=0, second=0) + dt.timedelta(hours=hours)


@st.composite
def clinicians(draw, count: int):
    profiles = []
    for clinician_id in range(1, count + 1):
        phone = draw(st.booleans())
        zone = draw(st.sampled_from(ZONES))
        booked = {
            week_start_on(NOW + dt.timedelta(weeks=w), zone): draw(st.integers(0, 1))
            for w in range(3)
        }
        profiles.append(
            ClinicianProfile(
                clinician_id=clinician_id,
                program_ids=frozenset(draw(st.sets(st.sampled_from([1, 2]), min_size=1))),
                district_ids=frozenset(draw(st.sets(st.sampled_from([10, 11, 12]), max_size=2))),
                facility_ids=frozenset(draw(st.sets(st.sampled_from([100, 101]), max_size=1))),
                is_active=draw(st.booleans()) or draw(st.booleans()),
                gender=draw(st.sampled_from(["", "female", "male"])),
                specialty=draw(st.sampled_from(["Psychiatry", "surgery ", "Surgery"])),
                offers_phone=phone,
                offers_video=not phone or draw(st.booleans()),
                weekly_capacity=draw(st.integers(0, 2)),
                time_zone=zone,
                booked_by_week=booked,
                upcoming_load=fairness_load(
                    booked, now=NOW, time_zone=zone, weeks=WEIGHTS.fairness_weeks
                ),
            )
        )
    return profiles


@st.composite
def slot_rows(draw, clinician_count: int, max_size: int):
    picks = draw(
        st.lists(
            st.tuples(st.integers(1, clinician_count), st.integers(0, 24 * 16)),
            max_size=max_size,
            unique=True,
        )
    )
    return [
        (i + 1, clinician, hour(h), hour(h) + dt.timedelta(hours=1))
        for i, (clinician, h) in enumerate(picks)
    ]


@st.composite
def needs(draw, clinician_count: int, max_size: int):
    count = draw(st.integers(1, max_size))
    return [
        Need(
            referral_id=referral_id,
            program_id=draw(st.sampled_from([1, 2])),
            min_notice_hours=draw(st.sampled_from([0, 4, 24])),
            is_priority=draw(st.booleans()),
            time_zone=draw(st.sampled_from(ZONES)),
            windows=tuple(sorted(draw(st.sets(st.sampled_from(WINDOW_KEYS), max_size=10)))),
            excluded_district_ids=frozenset(draw(st.sets(st.sampled_from([10, 11]), max_size=2))),
            excluded_facility_ids=frozenset(draw(st.sets(st.sampled_from([100]), max_size=1))),
            excluded_clinician_ids=frozenset(
                draw(st.sets(st.integers(1, clinician_count), max_size=1))
            ),
            modality=draw(st.sampled_from(["any", "phone", "video"])),
            gender=draw(st.sampled_from(["any", "female", "male"])),
            specialty_preference=draw(st.sampled_from(["any", "same", "different"])),
            specialty=draw(st.sampled_from(["", "surgery", "Psychiatry"])),
            previous_clinician_id=draw(st.sampled_from([None, 1, 2])),
            order=referral_id,
        )
        for referral_id in range(1, count + 1)
    ]


@st.composite
def instances(draw, max_needs: int = 4, max_slots: int = 10):
    count = draw(st.integers(1, 5))
    return (
        draw(needs(count, max_needs)),
        draw(clinicians(count)),
        draw(slot_rows(count, max_slots)),
    )


def breaches(need, profiles, rows, slot_id):
    row = next(r for r in rows if r[0] == slot_id)
    return breached_constraints(need, profiles[row[1]], SlotView(*row), now=NOW)


def assert_assignment_is_feasible(result, needs_, profiles, rows):
    """No broken constraint, no slot twice, no clinician week over capacity."""
    by_id = {p.clinician_id: p for p in profiles}
    need_of = {n.referral_id: n for n in needs_}
    weeks: dict[tuple[int, dt.date], int] = {}
    assert len({p.slot_id for p in result.proposals}) == len(result.proposals)
    for proposal in result.proposals:
        assert breaches(need_of[proposal.referral_id], by_id, rows, proposal.slot_id) == []
        clinician = by_id[proposal.clinician_id]
        week = (clinician.clinician_id, week_start_on(proposal.starts_at, clinician.time_zone))
        weeks[week] = weeks.get(week, 0) + 1
        assert clinician.booked_by_week.get(week[1], 0) + weeks[week] <= clinician.weekly_capacity


def assert_each_tier_is_optimal(result, needs_, profiles, rows, *, optimum) -> None:
    """PRIORITY first at its own optimum, then routine at the optimum over what the batch's
    priority proposals left; `optimum(needs, profiles, rows)` is an independent solver."""
    priority = [n for n in needs_ if n.is_priority]
    routine = [n for n in needs_ if not n.is_priority]
    ids = {n.referral_id for n in priority}
    first = [p for p in result.proposals if p.referral_id in ids]
    first_cost = sum(p.cost.total for p in first) + sum(
        unmatched_points(n, WEIGHTS)
        for n in priority
        if n.referral_id not in {p.referral_id for p in first}
    )
    assert first_cost == optimum(priority, profiles, rows)
    table = SlotTable.from_rows(rows)
    left_profiles, _left = after_proposals(profiles, table, first, now=NOW, weights=WEIGHTS)
    left_rows = [r for r in rows if r[0] not in {p.slot_id for p in first}]
    assert result.total_cost == first_cost + optimum(routine, left_profiles, left_rows)


def exhaustive_cost(needs_, profiles, rows) -> int:
    """The cheapest assignment by trying them all: an independent check of the flow."""
    by_id = {p.clinician_id: p for p in profiles}
    options = []
    for need in needs_:
        choices = [(None, unmatched_points(need, WEIGHTS))]
        for slot_id, clinician_id, starts_at, _ends_at in rows:
            if not breaches(need, by_id, rows, slot_id):
                week = week_start_on(starts_at, by_id[clinician_id].time_zone)
                cost = slot_cost(need, by_id[clinician_id], starts_at, now=NOW, weights=WEIGHTS)
                choices.append(((slot_id, clinician_id, week), cost.total))
        options.append(choices)
    best = [None]

    def search(index, used, load, cost):
        if best[0] is not None and cost >= best[0]:
            return
        if index == len(options):
            best[0] = cost
            return
        for choice, price in options[index]:
            if choice is None:
                search(index + 1, used, load, cost + price)
                continue
            slot_id, clinician_id, week = choice
            held = by_id[clinician_id].booked_by_week.get(week, 0) + load.get(
                (clinician_id, week), 0
            )
            if slot_id in used or held >= by_id[clinician_id].weekly_capacity:
                continue
            load[(clinician_id, week)] = load.get((clinician_id, week), 0) + 1
            search(index + 1, used | {slot_id}, load, cost + price)
            load[(clinician_id, week)] -= 1

    search(0, frozenset(), {}, 0)
    return best[0]


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instances())
def test_no_single_proposal_ever_breaks_a_hard_constraint(instance):
    needs_, profiles, rows = instance
    by_id = {p.clinician_id: p for p in profiles}
    table = SlotTable.from_rows(rows)
    for need in needs_:
        result = match_single(need, by_id, table, now=NOW, weights=WEIGHTS)
        for option in result.options:
            assert breaches(need, by_id, rows, option.slot_id) == []
        feasible = [r for r in rows if not breaches(need, by_id, rows, r[0])]
        assert bool(result.options) == bool(feasible)
        if result.best is not None:
            costs = [
                slot_cost(need, by_id[r[1]], r[2], now=NOW, weights=WEIGHTS).total for r in feasible
            ]
            assert result.best.cost.total == min(costs)
        else:
            assert result.no_proposal.constraint is not None


@FAST
@given(instances(max_needs=5, max_slots=12))
def test_batch_never_breaks_a_constraint_and_matches_exhaustive_search(instance):
    needs_, profiles, rows = instance
    table = SlotTable.from_rows(rows)
    result = assign_batch(needs_, profiles, table, now=NOW, weights=WEIGHTS)
    assert_assignment_is_feasible(result, needs_, profiles, rows)
    assert len(result.proposals) + len(result.unmatched) == len(needs_)
    assert_each_tier_is_optimal(result, needs_, profiles, rows, optimum=exhaustive_cost)


@FAST
@given(instances(max_needs=5, max_slots=12), st.booleans())
def test_batch_costs_no_more_than_least_recently_booked_round_robin(instance, is_priority):
    needs_, profiles, rows = instance
    needs_ = [Need(**{**_fields(n), "is_priority": is_priority}) for n in needs_]
    table = SlotTable.from_rows(rows)
    batch = assign_batch(needs_, profiles, table, now=NOW, weights=WEIGHTS)
    greedy = assign_greedy(needs_, profiles, table, now=NOW, weights=WEIGHTS)
    assert_assignment_is_feasible(greedy, needs_, profiles, rows)
    assert batch.total_cost <= greedy.total_cost


def _fields(need: Need) -> dict:
    return {name: getattr(need, name) for name in Need.__slots__}


def _clinician(clinician_id, **changes) -> ClinicianProfile:
    base = {"clinician_id": clinician_id, "program_ids": frozenset({1}), "weekly_capacity": 5}
    return ClinicianProfile(**{**base, **changes})


def test_matching_never_offers_a_clinician_from_the_referrers_district_or_facility():
    need = Need(
        1, 1, 24, excluded_district_ids=frozenset({7}), excluded_facility_ids=frozenset({70})
    )
    same_district = _clinician(1, district_ids=frozenset({7}))
    same_facility = _clinician(2, district_ids=frozenset({8}), facility_ids=frozenset({70}))
    elsewhere = _clinician(3, district_ids=frozenset({9}))
    rows = [(1, 1, hour(30), hour(31)), (2, 2, hour(31), hour(32)), (3, 3, hour(90), hour(91))]
    profiles = {c.clinician_id: c for c in (same_district, same_facility, elsewhere)}
    result = match_single(need, profiles, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS)
    assert [o.clinician_id for o in result.options] == [3]


def test_a_full_week_is_skipped_for_the_next_week_with_room():
    monday = week_start_on(hour(30), "Australia/Sydney")
    full = _clinician(1, weekly_capacity=2, booked_by_week={monday: 2})
    rows = [(1, 1, hour(30), hour(31)), (2, 1, hour(30 + 24 * 7), hour(31 + 24 * 7))]
    result = match_single(
        Need(1, 1, 24), {1: full}, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS
    )
    assert [o.slot_id for o in result.options] == [2]


def test_a_later_session_stays_with_the_earlier_clinician_when_they_are_free_soon():
    need = Need(1, 1, 24, previous_clinician_id=2)
    rows = [(1, 1, hour(30), hour(31)), (2, 2, hour(30 + 24 * 9), hour(31 + 24 * 9))]
    profiles = {1: _clinician(1), 2: _clinician(2)}
    result = match_single(need, profiles, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS)
    assert result.best.clinician_id == 2
    assert result.best.cost.continuity == 0


def test_continuity_gives_way_when_the_earlier_clinician_is_only_free_much_later():
    need = Need(1, 1, 24, previous_clinician_id=2)
    rows = [(1, 1, hour(30), hour(31)), (2, 2, hour(30 + 24 * 20), hour(31 + 24 * 20))]
    profiles = {1: _clinician(1), 2: _clinician(2)}
    result = match_single(need, profiles, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS)
    assert result.best.clinician_id == 1


def test_a_stated_gender_preference_is_honoured_unless_it_costs_days():
    need = Need(1, 1, 24, gender="female")
    profiles = {1: _clinician(1, gender="male"), 2: _clinician(2, gender="female")}
    soon = [(1, 1, hour(30), hour(31)), (2, 2, hour(40), hour(41))]
    later = [(1, 1, hour(30), hour(31)), (2, 2, hour(30 + 24 * 5), hour(31 + 24 * 5))]

    def pick(rows):
        table = SlotTable.from_rows(rows)
        return match_single(need, profiles, table, now=NOW, weights=WEIGHTS).best.clinician_id

    assert pick(soon) == 2
    assert pick(later) == 1


def test_priority_cases_may_be_offered_times_inside_the_routine_notice():
    rows = [(1, 1, hour(6), hour(7))]
    profiles = {1: _clinician(1)}
    routine = match_single(
        Need(1, 1, 24), profiles, SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS
    )
    priority = match_single(
        Need(1, 1, 4, is_priority=True),
        profiles,
        SlotTable.from_rows(rows),
        now=NOW,
        weights=WEIGHTS,
    )
    assert routine.no_proposal.constraint == Constraint.NOTICE
    assert priority.best.slot_id == 1


def test_windows_are_read_in_the_referrers_time_zone():
    # Wednesday 1 April 2026, 9am in Sydney is 6am in Perth.
    starts_at = dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC)
    rows = [(1, 1, starts_at, starts_at + dt.timedelta(hours=1))]
    profiles = {1: _clinician(1)}
    sydney = Need(1, 1, 0, windows=("wed-morning",), time_zone="Australia/Sydney")
    perth = Need(1, 1, 0, windows=("wed-morning",), time_zone="Australia/Perth")
    table = SlotTable.from_rows(rows)
    assert match_single(sydney, profiles, table, now=NOW, weights=WEIGHTS).best is not None
    assert match_single(perth, profiles, table, now=NOW, weights=WEIGHTS).best is None


def test_the_reason_names_the_constraint_that_emptied_the_pool():
    profiles = {1: _clinician(1, district_ids=frozenset({7}))}
    rows = [(1, 1, hour(30), hour(31))]
    need = Need(1, 1, 24, excluded_district_ids=frozenset({7}))
    assert emptied_by(need, profiles, SlotTable.from_rows(rows), now=NOW) == Constraint.DISTRICT
    assert (
        emptied_by(Need(1, 2, 24), profiles, SlotTable.from_rows(rows), now=NOW)
        == Constraint.PROGRAM
    )
    # hour(30) is a Tuesday afternoon in Sydney.
    windows = Need(1, 1, 24, windows=("sun-evening",))
    assert emptied_by(windows, profiles, SlotTable.from_rows(rows), now=NOW) == Constraint.WINDOWS


def test_two_referrals_never_get_the_same_time_in_a_batch():
    rows = [(1, 1, hour(30), hour(31)), (2, 1, hour(50), hour(51))]
    needs_ = [Need(1, 1, 24, order=1), Need(2, 1, 24, order=2), Need(3, 1, 24, order=3)]
    result = assign_batch(
        needs_, [_clinician(1)], SlotTable.from_rows(rows), now=NOW, weights=WEIGHTS
    )
    assert sorted(p.slot_id for p in result.proposals) == [1, 2]
    assert len(result.unmatched) == 1
