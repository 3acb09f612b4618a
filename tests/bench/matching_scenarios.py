"""Seeded synthetic data shaped like the service, for the matching benchmark and large tests.

Plain data only (ids, datetimes, tuples), so the same scenario can be written to PostgreSQL or
handed straight to the pure engine. Nothing here resembles a real person.
"""

import datetime as dt
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from referrals.windows import WINDOW_KEYS

SPECIALTIES = (
    "General practice",
    "Psychiatry",
    "Emergency medicine",
    "Anaesthetics",
    "Surgery",
    "Paediatrics",
    "Obstetrics and gynaecology",
    "Internal medicine",
    "Radiology",
    "Intensive care",
    "Rural generalist",
    "Public health",
)
CLINICIAN_ZONES = (
    ("Australia/Sydney", 85),
    ("Australia/Brisbane", 7),
    ("Australia/Melbourne", 5),
    ("Australia/Perth", 3),
)
REFERRER_ZONES = (("Australia/Sydney", 90), ("Australia/Melbourne", 6), ("Australia/Brisbane", 4))
# Half-day sessions a clinician may run: (weekday, first hour, hours).
SESSIONS = [(day, 8, 4) for day in range(5)] + [(day, 13, 4) for day in range(5)]
SESSIONS += [(day, 17, 3) for day in range(4)] + [(5, 8, 4)]
# Referrers mostly ask for weekday times, evenings and Saturday mornings more than their share.
WINDOW_WEIGHTS = {
    key: (3 if key.endswith("evening") else 2)
    if key[:3] in ("mon", "tue", "wed", "thu", "fri")
    else (2 if key == "sat-morning" else 0.3)
    for key in WINDOW_KEYS
}


@dataclass
class Scenario:
    now: dt.datetime
    clinicians: list[dict] = field(default_factory=list)
    slots: list[tuple[int, int, dt.datetime, dt.datetime]] = field(default_factory=list)
    booked: list[tuple[int, int]] = field(default_factory=list)  # (clinician id, slot id)
    referrals: list[dict] = field(default_factory=list)


def _pick(rng: random.Random, weighted) -> object:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def build_scenario(
    *,
    seed: int,
    now: dt.datetime,
    programs: list[int],
    districts: list[tuple[int, list[int]]],
    clinicians: int = 1000,
    referrals: int = 10000,
    sessions_per_week: tuple[int, ...] = (3, 3, 3, 3, 3, 3, 4),
    session_hours: int | None = None,
    capacity: tuple[int, int] = (3, 8),
    weeks: int = 8,
    preload: float = 0.25,
) -> Scenario:
    """A seeded scenario: `clinicians` with weekly half-day sessions of hourly slots over
    `weeks`, a share of each week's capacity already booked, and `referrals` waiting."""
    rng = random.Random(seed)
    scenario = Scenario(now=now)
    start_on = now.astimezone(ZoneInfo("Australia/Sydney")).date()
    for clinician_id in range(1, clinicians + 1):
        clinician = _clinician(rng, clinician_id, programs, districts, capacity)
        scenario.clinicians.append(clinician)
        for session in rng.sample(SESSIONS, rng.choice(sessions_per_week)):
            _add_session_slots(scenario, clinician, session, start_on, weeks, session_hours)
    _preload(rng, scenario, preload)
    offering = {p: [c["id"] for c in scenario.clinicians if p in c["programs"]] for p in programs}
    for referral_id in range(1, referrals + 1):
        scenario.referrals.append(_referral(rng, referral_id, programs, districts, offering))
    return scenario


def _clinician(rng, clinician_id, programs, districts, capacity) -> dict:
    home = rng.sample(districts, 2 if rng.random() < 0.15 else 1)
    facilities = [rng.choice(home[0][1])] if rng.random() < 0.4 and home[0][1] else []
    modality = rng.random()
    return {
        "id": clinician_id,
        "programs": rng.sample(programs, 2 if rng.random() < 0.15 else 1),
        "districts": [d for d, _f in home],
        "facilities": facilities,
        "gender": _pick(rng, (("female", 55), ("male", 40), ("non_binary", 2), ("", 3))),
        "specialty": rng.choice(SPECIALTIES),
        "offers_phone": modality < 0.85,
        "offers_video": modality >= 0.15,
        "weekly_capacity": rng.randint(*capacity),
        "time_zone": _pick(rng, CLINICIAN_ZONES),
    }


def _add_session_slots(scenario, clinician, session, start_on, weeks, session_hours) -> None:
    weekday, first_hour, hours = session
    zone = ZoneInfo(clinician["time_zone"])
    first_day = start_on + dt.timedelta(days=(weekday - start_on.weekday()) % 7)
    for week in range(weeks):
        day = first_day + dt.timedelta(weeks=week)
        for hour in range(first_hour, first_hour + (session_hours or hours)):
            starts_at = dt.datetime.combine(day, dt.time(hour), zone).astimezone(dt.UTC)
            if starts_at <= scenario.now:
                continue
            slot_id = len(scenario.slots) + 1
            scenario.slots.append(
                (slot_id, clinician["id"], starts_at, starts_at + dt.timedelta(hours=1))
            )


def _preload(rng, scenario, share) -> None:
    """Book `share` of each clinician's capacity in the first four weeks."""
    by_week: dict[tuple[int, int], list[int]] = {}
    for slot_id, clinician_id, starts_at, _ends_at in scenario.slots:
        week = (starts_at - scenario.now).days // 7
        if week < 4:
            by_week.setdefault((clinician_id, week), []).append(slot_id)
    capacity = {c["id"]: c["weekly_capacity"] for c in scenario.clinicians}
    for (clinician_id, _week), slot_ids in sorted(by_week.items()):
        count = min(len(slot_ids), round(capacity[clinician_id] * share * rng.random() * 2))
        scenario.booked.extend((clinician_id, s) for s in rng.sample(slot_ids, count))


def _referral(rng, referral_id, programs, districts, offering_by_program) -> dict:
    district, facilities = rng.choice(districts)
    employer = district if rng.random() < 0.9 else rng.choice(districts)[0]
    program = _pick(rng, zip(programs, (45, 25, 30)[: len(programs)], strict=False))
    offering = offering_by_program[program]
    windows = (
        ()
        if rng.random() < 0.05
        else tuple(
            sorted(set(rng.choices(WINDOW_KEYS, [WINDOW_WEIGHTS[k] for k in WINDOW_KEYS], k=4)))
        )
    )
    return {
        "id": referral_id,
        "program": program,
        "is_priority": rng.random() < 0.1,
        "time_zone": _pick(rng, REFERRER_ZONES),
        "windows": windows,
        "workplace_district": district,
        "employer_district": employer,
        "facility": rng.choice(facilities) if facilities and rng.random() < 0.7 else None,
        "modality": _pick(rng, (("any", 55), ("phone", 25), ("video", 20))),
        "gender": _pick(rng, (("any", 75), ("female", 19), ("male", 5), ("non_binary", 1))),
        "specialty_preference": _pick(rng, (("any", 80), ("same", 10), ("different", 10))),
        "specialty": rng.choice(SPECIALTIES),
        "previous_clinician": rng.choice(offering) if offering and rng.random() < 0.08 else None,
        "declined": rng.sample(offering, 1) if offering and rng.random() < 0.03 else [],
    }
