"""Matching benchmark: batch assignment at service scale, its quality against greedy round robin
and an exact solver, and a single match inside a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_matching_bench \\
    REDIS_URL=redis://127.0.0.1:6379/3 python -m tests.bench matching

Needs PostgreSQL (the database in DATABASE_URL is reset: use one of its own); with REDIS_URL a
real worker runs the single-match figures, without it they are skipped. Seeded, bounded, and
every service it talks to is on 127.0.0.1. `--batch-only` prints the batch figures alone (no
exactness check, no worker): a quicker loop while working on the batch.
"""

import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from tests.bench.matching_scenarios import Scenario, build_scenario

# Real time, so the worker's matches (which use the clock) see the same future as the batch.
NOW = dt.datetime.now(dt.UTC).replace(minute=17, second=5, microsecond=0)
SCENARIOS = {
    # 1,000 clinicians with three or four half-days a week over 8 weeks: ~100,000 hourly slots.
    "10k referrals x 100k slots": {"sessions_per_week": (3, 3, 3, 3, 3, 3, 4)},
    # The same clinicians with far fewer hours and smaller weekly caps: ~40,000 slots.
    # With fewer (31,800) the waits' gain over greedy swung with the weekday a run begins on
    # (docs/matching.md), so the start is printed with the data.
    "contended: 10k referrals x 40k slots": {
        "sessions_per_week": (1, 2, 2),
        "capacity": (2, 4),
        "session_hours": 3,
    },
}
SINGLE_MATCHES = 60
TIMEOUT_SECONDS = 120


def main(argv: list[str]) -> None:
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        print("skipped: set DATABASE_URL to a PostgreSQL database of its own (it is reset)")
        return
    settings.DEBUG = False  # keep bulk inserts out of connection.queries
    batch_only = "--batch-only" in argv
    _migrate()
    if not batch_only:
        print(_exact_gap())
    for index, (name, shape) in enumerate(SCENARIOS.items()):
        print(f"\n### {name}")
        scenario = _load(shape)
        print(_scenario_summary(scenario))
        if index == 0 and not batch_only:
            print("single referral matched inside a Celery task, before the batch:")
            _single_match_figures(reuse_settings=("1000", "0"))
        _print_batch(_in_child("batch"))
        if index == 0 and not batch_only:
            print(
                "single referral matched inside a Celery task, after the batch (early weeks full):"
            )
            _single_match_figures(reuse_settings=("1000",))


# --- data ---


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _reference_ids() -> tuple[list[int], list[tuple[int, list[int]]]]:
    from referrals.models import District, Program

    programs = list(
        Program.objects.filter(code__in=["dup", "jmo-support-line", "drs4drs"])
        .order_by("display_order")
        .values_list("pk", flat=True)
    )
    districts = [
        (district.pk, [f.pk for f in district.facilities.all()])
        for district in District.objects.prefetch_related("facilities").order_by("pk")
    ]
    return programs, districts


def _reset() -> None:
    from django.db import connection

    tables = [
        "scheduling_appointmentevent",
        "scheduling_appointment",
        "scheduling_clinicianweek",
        "scheduling_slot",
        "scheduling_clinician_programs",
        "scheduling_clinician_districts",
        "scheduling_clinician_facilities",
        "scheduling_availabilityrule",
        "scheduling_timeoff",
        "scheduling_clinician",
        "referrals_referralevent",
        "referrals_triageassessment",
        "referrals_referral",
        "referrals_episode",
        "auth_user",
    ]
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(t for t in tables if t in existing)} CASCADE")


def _load(shape: dict) -> Scenario:
    """Write a seeded scenario to the database (not timed)."""
    programs, districts = _reference_ids()
    scenario = build_scenario(seed=7, now=NOW, programs=programs, districts=districts, **shape)
    _reset()
    _write(scenario)
    from scheduling.services.load import clinician_weeks_recount

    clinician_weeks_recount(now=NOW)  # the preloaded sessions were written straight to tables
    from django.db import connection

    with connection.cursor() as cursor:
        # Statistics, visibility maps and hint bits as a database in service has them, and no
        # autovacuum of the bulk load running during the measurements.
        cursor.execute("VACUUM ANALYZE")
    return scenario


def _write(scenario: Scenario) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from referrals.models import Episode, Referral
    from scheduling.models import Appointment, Clinician, Slot

    User = get_user_model()
    with transaction.atomic():
        User.objects.bulk_create(
            [
                User(pk=c["id"], username=f"clinician{c['id']}", password="!")
                for c in scenario.clinicians
            ],
            batch_size=5000,
        )
        Clinician.objects.bulk_create(
            [
                Clinician(
                    pk=c["id"],
                    user_id=c["id"],
                    display_name=f"Clinician {c['id']}",
                    roles=["coach"],
                    gender=c["gender"],
                    specialty=c["specialty"],
                    offers_phone=c["offers_phone"],
                    offers_video=c["offers_video"],
                    weekly_capacity=c["weekly_capacity"],
                    time_zone=c["time_zone"],
                    calendar_email=f"clinician{c['id']}@calendar.test",
                    feed_token=f"bench-{c['id']}",
                )
                for c in scenario.clinicians
            ],
            batch_size=5000,
        )
        for field, model in (
            ("programs", Clinician.programs.through),
            ("districts", Clinician.districts.through),
            ("facilities", Clinician.facilities.through),
        ):
            column = {
                "programs": "program_id",
                "districts": "district_id",
                "facilities": "facility_id",
            }[field]
            model.objects.bulk_create(
                [
                    model(clinician_id=c["id"], **{column: v})
                    for c in scenario.clinicians
                    for v in c[field]
                ],
                batch_size=5000,
            )
        Slot.objects.bulk_create(
            [Slot(pk=s, clinician_id=c, starts_at=a, ends_at=b) for s, c, a, b in scenario.slots],
            batch_size=10000,
        )
        _write_referrals(scenario, Episode, Referral, Appointment, Slot)


def _referral(pk: int, program: int, **fields):
    from referrals.models import Referral

    return Referral(
        pk=pk,
        reference=f"B{pk:07d}",
        program_id=program,
        given_name="Bench",
        family_name=f"Case {pk}",
        email=f"case{pk}@example.test",
        collection_notice_version="bench",
        has_accepted_not_crisis_service=True,
        **fields,
    )


def _write_referrals(scenario, Episode, Referral, Appointment, Slot) -> None:
    """Pending referrals, referrals already booked (the preloaded sessions), earlier completed
    sessions for continuity, and declined proposals."""
    offset = len(scenario.referrals) + 1
    clinician_program = {c["id"]: c["programs"][0] for c in scenario.clinicians}
    booked = [
        _referral(offset + i, clinician_program[c], status="booked")
        for i, (c, _s) in enumerate(scenario.booked)
    ]
    episodes, pending, history, past_slots = [], [], [], []
    next_slot = len(scenario.slots) + 1
    for r in scenario.referrals:
        episode = None
        if r["previous_clinician"]:
            episode = Episode(
                pk=r["id"],
                program_id=r["program"],
                email_normalised=f"case{r['id']}@example.test",
                session_limit=3,
            )
            episodes.append(episode)
        pending.append(
            _referral(
                r["id"],
                r["program"],
                episode_id=episode.pk if episode else None,
                priority="priority" if r["is_priority"] else "routine",
                time_zone=r["time_zone"],
                preferred_windows=list(r["windows"]),
                workplace_district_id=r["workplace_district"],
                employer_district_id=r["employer_district"],
                workplace_facility_id=r["facility"],
                modality=r["modality"],
                clinician_gender=r["gender"],
                specialty_preference=r["specialty_preference"],
                specialty=r["specialty"],
            )
        )
        for clinician, status in [(r["previous_clinician"], "completed")] + [
            (c, "declined") for c in r["declined"]
        ]:
            if not clinician:
                continue
            starts_at = NOW - dt.timedelta(days=14, hours=next_slot)
            past_slots.append(
                Slot(
                    pk=next_slot,
                    clinician_id=clinician,
                    starts_at=starts_at,
                    ends_at=starts_at + dt.timedelta(hours=1),
                    is_offered=False,
                )
            )
            history.append(
                Appointment(
                    referral_id=r["id"],
                    slot_id=next_slot,
                    clinician_id=clinician,
                    session_number=1,
                    status=status,
                    ical_uid=f"bench-h{next_slot}@bench",
                )
            )
            next_slot += 1
    Episode.objects.bulk_create(episodes, batch_size=5000)
    Referral.objects.bulk_create(pending + booked, batch_size=5000)
    Slot.objects.bulk_create(past_slots, batch_size=5000)
    Appointment.objects.bulk_create(
        history
        + [
            Appointment(
                referral_id=offset + i,
                slot_id=s,
                clinician_id=c,
                session_number=1,
                status="accepted",
                ical_uid=f"bench-b{s}@bench",
            )
            for i, (c, s) in enumerate(scenario.booked)
        ],
        batch_size=5000,
    )


def _scenario_summary(scenario: Scenario) -> str:
    refs = scenario.referrals
    windows = statistics.mean(len(r["windows"]) for r in refs)

    def share(test) -> str:
        return f"{100 * sum(bool(test(r)) for r in refs) / len(refs):.0f}%"

    starts = scenario.now.astimezone(ZoneInfo("Australia/Sydney"))
    return (
        f"data from {starts:%a %d %b %H:%M} in Sydney: {len(scenario.clinicians)} clinicians, "
        f"{len(scenario.slots)} slots "
        f"({len(scenario.booked)} already booked), {len(refs)} pending referrals; "
        f"{windows:.1f} half-day windows each ({share(lambda r: not r['windows'])} any time), "
        f"priority {share(lambda r: r['is_priority'])}, gender preference "
        f"{share(lambda r: r['gender'] != 'any')}, specialty preference "
        f"{share(lambda r: r['specialty_preference'] != 'any')}, session type chosen "
        f"{share(lambda r: r['modality'] != 'any')}, "
        f"later session {share(lambda r: r['previous_clinician'])}"
    )


# --- the batch, in a fresh process so its peak memory is its own ---


def _in_child(what: str) -> dict:
    code = (
        "import os, django, json; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.test';"
        f" django.setup(); from tests.bench.bench_matching import child_{what};"
        f" print('RESULT ' + json.dumps(child_{what}()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"the benchmark child failed:\n{done.stderr[-3000:]}")


def child_batch() -> dict:
    """Load, solve and write one batch of every pending referral; measure it; compare greedy."""
    from django.db import connection

    from config.collector import collector_paused
    from referrals.models import Referral
    from scheduling.matching_batch import assign_batch, assign_greedy
    from scheduling.selectors import batch_inputs, matching_weights, referrals_for_matching
    from scheduling.services.matching import BatchPlan, referrals_propose_batch

    weights = matching_weights()
    started, cpu_started = time.perf_counter(), time.process_time()
    with collector_paused():  # as referrals_plan_batch reads
        ids = list(
            Referral.objects.filter(status="new").order_by("pk").values_list("pk", flat=True)
        )
        referrals = referrals_for_matching(ids)
        needs, profiles, slots = batch_inputs(referrals, now=NOW, weights=weights)
    loaded, cpu_loaded = time.perf_counter(), time.process_time()
    result = assign_batch(needs, profiles, slots, now=NOW, weights=weights)
    solved, cpu_solved = time.perf_counter(), time.process_time()
    outcome = referrals_propose_batch(
        plan=BatchPlan(NOW, result.proposals, result.unmatched, result.total_cost)
    )
    written, cpu_written = time.perf_counter(), time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    greedy_started = time.perf_counter()
    greedy = assign_greedy(
        needs, _with_last_booked(profiles, connection), slots, now=NOW, weights=weights
    )
    greedy_seconds = time.perf_counter() - greedy_started
    return {
        "load": loaded - started,
        "solve": solved - loaded,
        "write": written - solved,
        "cpu": [cpu_loaded - cpu_started, cpu_solved - cpu_loaded, cpu_written - cpu_solved],
        "peak_mb": peak,
        "written": len(outcome.appointment_ids),
        "skipped": outcome.skipped,
        "batch": _quality(result, needs, profiles, slots, weights),
        "greedy": _quality(greedy, needs, profiles, slots, weights),
        "greedy_seconds": greedy_seconds,
    }


def _with_last_booked(profiles, connection):
    """Round robin needs when each clinician was last booked: their latest held session."""
    from dataclasses import replace

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT clinician_id, max(proposed_at) FROM scheduling_appointment "
            "WHERE match_explanation->>'mode' IS NULL GROUP BY clinician_id"
        )
        last = dict(cursor.fetchall())
    return [replace(p, last_booked_at=last.get(p.clinician_id)) for p in profiles]


def _quality(result, needs, profiles, slots, weights) -> dict:
    """Violations, waiting and load spread of an assignment, from the engine's own inputs."""
    from scheduling.matching import SlotView, breached_constraints, week_start_on

    by_id = {p.clinician_id: p for p in profiles}
    need_of = {n.referral_id: n for n in needs}
    index = {int(s): i for i, s in enumerate(slots.slot_ids.tolist())}
    violations, seen, weeks = 0, set(), Counter()
    for p in result.proposals:
        i = index[p.slot_id]
        view = SlotView(
            p.slot_id,
            p.clinician_id,
            dt.datetime.fromtimestamp(int(slots.starts_at[i]), dt.UTC),
            dt.datetime.fromtimestamp(int(slots.ends_at[i]), dt.UTC),
        )
        clinician = by_id[p.clinician_id]
        week = (p.clinician_id, week_start_on(view.starts_at, clinician.time_zone))
        weeks[week] += 1
        broken = breached_constraints(need_of[p.referral_id], clinician, view, now=NOW)
        over = clinician.booked_by_week.get(week[1], 0) + weeks[week] > clinician.weekly_capacity
        violations += bool(broken) or over or p.slot_id in seen
        seen.add(p.slot_id)
    waits = np.array([p.cost.wait_minutes / 60 for p in result.proposals] or [0.0])
    load = Counter(p.clinician_id for p in result.proposals)
    ratios = np.array(
        [
            (p.upcoming_load + load[p.clinician_id])
            / max(1, p.weekly_capacity * weights.fairness_weeks)
            for p in profiles
        ]
    )
    return {
        "matched": len(result.proposals),
        "unmatched": len(result.unmatched),
        "cost": result.total_cost,
        "violations": violations,
        "mean_wait_h": float(waits.mean()),
        "p95_wait_h": float(np.percentile(waits, 95)),
        "load_p10": float(np.percentile(ratios, 10)),
        "load_p90": float(np.percentile(ratios, 90)),
        "load_sd": float(ratios.std()),
    }


def _print_batch(f: dict) -> None:
    total = f["load"] + f["solve"] + f["write"]
    print(
        f"batch end to end {total:.2f} s (load {f['load']:.2f} s, solve {f['solve']:.2f} s, "
        f"write {f['write']:.2f} s: {f['written']} proposals, {f['skipped']} skipped); "
        f"peak memory {f['peak_mb']:.0f} MB; CPU time of this process: load {f['cpu'][0]:.2f} s, "
        f"solve {f['cpu'][1]:.2f} s, write {f['cpu'][2]:.2f} s; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    for name in ("batch", "greedy"):
        q = f[name]
        print(
            f"  {name:>6}: matched {q['matched']}, unmatched {q['unmatched']}, "
            f"total cost {q['cost']}, "
            f"hard-constraint violations {q['violations']}, wait mean {q['mean_wait_h']:.1f} h "
            f"p95 {q['p95_wait_h']:.1f} h, load/capacity p10 {q['load_p10']:.2f} p90 "
            f"{q['load_p90']:.2f} sd {q['load_sd']:.3f}"
        )
    b, g = f["batch"], f["greedy"]
    shorter = 100 * (1 - b["mean_wait_h"] / g["mean_wait_h"]) if g["mean_wait_h"] else 0.0
    print(
        f"  batch vs greedy: mean wait {shorter:.1f}% shorter, p95 "
        f"{g['p95_wait_h'] - b['p95_wait_h']:.1f} h shorter, cost {b['cost'] - g['cost']:+d} "
        f"(greedy took {f['greedy_seconds']:.1f} s)"
    )


# --- exactness against an independent solver ---


def _exact_gap() -> str:
    """The batch against scipy's MILP (HiGHS) on small seeded instances, tier by tier."""
    gaps, sizes = [], []
    for seed in (1, 2, 3):
        scenario = build_scenario(
            seed=seed,
            now=NOW,
            programs=[1, 2, 3],
            districts=[(d, [d * 10]) for d in range(1, 9)],
            clinicians=15,
            referrals=60,
            sessions_per_week=(1, 2),
            capacity=(1, 3),
            weeks=3,
        )
        needs, profiles, slots = _pure_inputs(scenario)
        batch, exact, pairs = _compare_with_milp(needs, profiles, slots)
        gaps.append(100 * (batch - exact) / exact)
        sizes.append(pairs)
    return (
        "exactness: batch vs scipy MILP on 3 seeded instances "
        f"(60 referrals, ~{statistics.mean(sizes):.0f} "
        f"feasible referral-slot pairs each): gap {max(gaps):.4f}% at most"
    )


def _pure_inputs(scenario: Scenario):
    from scheduling.matching import ClinicianProfile, Need, SlotTable, week_start_on

    taken = {s for _c, s in scenario.booked}
    starts = {s[0]: s[2] for s in scenario.slots}
    zone = {c["id"]: c["time_zone"] for c in scenario.clinicians}
    booked = defaultdict(Counter)
    for clinician, slot in scenario.booked:
        booked[clinician][week_start_on(starts[slot], zone[clinician])] += 1
    profiles = [
        ClinicianProfile(
            c["id"],
            frozenset(c["programs"]),
            frozenset(c["districts"]),
            frozenset(c["facilities"]),
            True,
            c["gender"],
            c["specialty"],
            c["offers_phone"],
            c["offers_video"],
            c["weekly_capacity"],
            c["time_zone"],
            dict(booked[c["id"]]),
            sum(booked[c["id"]].values()),
        )
        for c in scenario.clinicians
    ]
    needs = [
        Need(
            r["id"],
            r["program"],
            4 if r["is_priority"] else 24,
            r["is_priority"],
            r["time_zone"],
            r["windows"],
            frozenset({r["workplace_district"], r["employer_district"]}),
            frozenset([r["facility"]] if r["facility"] else []),
            frozenset(r["declined"]),
            r["modality"],
            r["gender"],
            r["specialty_preference"],
            r["specialty"],
            r["previous_clinician"],
            r["id"],
        )
        for r in scenario.referrals
    ]
    return needs, profiles, SlotTable.from_rows([s for s in scenario.slots if s[0] not in taken])


def _compare_with_milp(needs, profiles, slots):
    from scheduling.matching_batch import after_proposals, assign_batch
    from scheduling.selectors import matching_weights

    weights = matching_weights()
    batch = assign_batch(needs, profiles, slots, now=NOW, weights=weights)
    priority = [n for n in needs if n.is_priority]
    routine = [n for n in needs if not n.is_priority]
    first = [p for p in batch.proposals if p.referral_id in {n.referral_id for n in priority}]
    exact_first, pairs_first = _milp(priority, profiles, slots, weights)
    left_profiles, left_slots = after_proposals(profiles, slots, first, now=NOW, weights=weights)
    exact_rest, pairs_rest = _milp(routine, left_profiles, left_slots, weights)
    return batch.total_cost, exact_first + exact_rest, pairs_first + pairs_rest


def _milp(needs, profiles, slots, weights) -> tuple[float, int]:
    """min Σ cost·x + Σ penalty·u subject to one option per referral, one referral per slot,
    and each clinician week within its spare capacity; x, u binary."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    from scheduling.matching import (
        SlotView,
        breached_constraints,
        slot_cost,
        unmatched_points,
        week_start_on,
    )

    if not needs:
        return 0.0, 0
    by_id = {p.clinician_id: p for p in profiles}
    pairs, costs = [], []
    for r, need in enumerate(needs):
        for s in range(len(slots)):
            clinician = by_id[int(slots.clinician_ids[s])]
            view = SlotView(
                int(slots.slot_ids[s]),
                clinician.clinician_id,
                slots.starts_at_datetime(s),
                dt.datetime.fromtimestamp(int(slots.ends_at[s]), dt.UTC),
            )
            if not breached_constraints(need, clinician, view, now=NOW):
                pairs.append(
                    (
                        r,
                        s,
                        (
                            clinician.clinician_id,
                            week_start_on(view.starts_at, clinician.time_zone),
                        ),
                    )
                )
                costs.append(
                    slot_cost(need, clinician, view.starts_at, now=NOW, weights=weights).total
                )
    count = len(pairs)
    weeks = sorted({w for _r, _s, w in pairs})
    week_index = {w: i for i, w in enumerate(weeks)}
    rows, cols = [], []
    for j, (r, s, w) in enumerate(pairs):
        rows += [r, len(needs) + s, len(needs) + len(slots) + week_index[w]]
        cols += [j, j, j]
    for r in range(len(needs)):
        rows.append(r)
        cols.append(count + r)
    matrix = coo_matrix(
        (np.ones(len(rows)), (rows, cols)),
        shape=(len(needs) + len(slots) + len(weeks), count + len(needs)),
    )
    spare = [by_id[c].weekly_capacity - by_id[c].booked_by_week.get(m, 0) for c, m in weeks]
    lower = np.r_[np.ones(len(needs)), np.zeros(len(slots) + len(weeks))]
    upper = np.r_[np.ones(len(needs)), np.ones(len(slots)), spare]
    objective = np.r_[costs, [unmatched_points(n, weights) for n in needs]]
    solved = milp(
        objective,
        constraints=LinearConstraint(matrix.tocsr(), lower, upper),
        integrality=np.ones(len(objective)),
        bounds=Bounds(0, 1),
    )
    return float(solved.fun), count


# --- a single match inside a real Celery worker ---


def _single_match_figures(*, reuse_settings: tuple[str, ...]) -> None:
    if not os.environ.get("REDIS_URL"):
        print("  skipped: set REDIS_URL to run a real worker")
        return
    labels = {
        "1000": "connections reused (CELERY_DB_REUSE_MAX=1000)",
        "0": "closed around every task (CELERY_DB_REUSE_MAX=0)",
    }
    for reuse in reuse_settings:
        runs = _worker_run(_new_referrals(SINGLE_MATCHES), reuse)
        times = sorted(r["ms"] for r in runs[3:])  # the first tasks warm the worker up
        matches = sorted(r["match_ms"] for r in runs[3:])
        queries = Counter(r["queries"] for r in runs[3:])
        print(
            f"  {labels[reuse]}: {len(times)} tasks, median {statistics.median(times):.1f} ms, "
            f"p95 {np.percentile(times, 95):.1f} ms (of which the match itself median "
            f"{statistics.median(matches):.1f} ms, p95 {np.percentile(matches, 95):.1f} ms; "
            f"the rest is the invitation notifications write); "
            f"queries per task {dict(sorted(queries.items()))}"
        )


def _new_referrals(count: int) -> list[int]:
    from referrals.models import Referral

    programs, districts = _reference_ids()
    top = Referral.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    made = [
        _referral(
            top + i + 1,
            programs[i % len(programs)],
            workplace_district_id=districts[i % len(districts)][0],
            employer_district_id=districts[i % len(districts)][0],
            preferred_windows=[
                ["mon-morning", "wed-afternoon", "thu-evening"],
                ["tue-morning", "fri-afternoon"],
                [],
            ][i % 3],
        )
        for i in range(count)
    ]
    Referral.objects.bulk_create(made)
    return [r.pk for r in made]


def _worker_run(ids: list[int], reuse: str) -> list[dict]:
    from django.conf import settings

    from config.celery import app
    from scheduling.tasks import match_referral

    probe = Path(settings.BASE_DIR) / "var" / f"bench-probe-{os.getpid()}.jsonl"
    probe.parent.mkdir(exist_ok=True)
    probe.unlink(missing_ok=True)
    environment = {
        **os.environ,
        "BENCH_PROBE_FILE": str(probe),
        "CELERY_DB_REUSE_MAX": reuse,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    app.conf.task_always_eager = False
    app.control.purge()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.bench.matching_probe",
            "worker",
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the benchmark worker did not start")
        for done, referral_id in enumerate(ids, start=1):
            match_referral.delay(referral_id)
            deadline = time.monotonic() + TIMEOUT_SECONDS
            while _lines(probe) < done:  # one task at a time: wait for it, bounded
                if time.monotonic() > deadline:
                    raise RuntimeError("a benchmark match did not finish in time")
                time.sleep(0.01)
        return [json.loads(line) for line in probe.read_text().splitlines()]
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        probe.unlink(missing_ok=True)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0
