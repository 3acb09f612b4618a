"""The programs of DESIGN §1 and the districts, networks and health services doctors work in.

Plain data plus one idempotent loader. The loader takes the model classes as arguments so the
data migration can pass its historical models and the `load_reference_data` command the real ones.
"""

NSW_HEALTH_CAREER_STAGES = ["medical_student", "intern", "resident", "registrar", "other_trainee"]
JMO_CAREER_STAGES = ["intern", "resident", "registrar", "other_trainee"]
ALL_CAREER_STAGES = [*NSW_HEALTH_CAREER_STAGES, "other_doctor"]

PROGRAMS = [
    {
        "code": "dup",
        "name": "Delivering Under Pressure coaching",
        "short_name": "DUP coaching",
        "description": (
            "Three one-hour coaching sessions with a professional coach, grounded in positive "
            "psychology, to help you work through pressure at work and plan what comes next."
        ),
        "fits_when": (
            "You are a medical student, JMO or doctor in training with NSW Health and want "
            "practical, forward-looking support with stress, workload, a hard incident or "
            "your career."
        ),
        "provider_role": "coach",
        "session_limit": 3,
        "eligibility": "Medical students, JMOs and other doctors in training with NSW Health.",
        "eligible_career_stages": NSW_HEALTH_CAREER_STAGES,
        "is_nsw_health_only": True,
        "hours_of_service": "Business hours, Monday to Friday",
        "phone": "1300 566 321",
        "min_notice_hours": 24,
        "priority_min_notice_hours": 4,
        "display_order": 10,
    },
    {
        "code": "jmo-support-line",
        "name": "JMO Support Line",
        "short_name": "JMO Support Line",
        "description": (
            "A confidential conversation with a trained senior clinician from another district, "
            "network or specialty — far enough from your own workplace to speak freely."
        ),
        "fits_when": (
            "You are a JMO with NSW Health and would like to talk something through with an "
            "experienced senior doctor who does not work where you do."
        ),
        "provider_role": "senior_clinician",
        "session_limit": 1,
        "eligibility": "Junior medical officers (interns, residents, registrars) in NSW Health.",
        "eligible_career_stages": JMO_CAREER_STAGES,
        "is_nsw_health_only": True,
        "hours_of_service": "By appointment",
        "min_notice_hours": 24,
        "priority_min_notice_hours": 4,
        "display_order": 20,
    },
    {
        "code": "drs4drs",
        "name": "Drs4Drs counselling",
        "short_name": "Drs4Drs",
        "description": (
            "Up to three one-hour sessions with a registered psychologist, social worker or "
            "counsellor. Every request is triaged, and anyone who needs to talk now is offered a "
            "telehealth consultation with a counsellor on duty."
        ),
        "fits_when": (
            "You are a doctor or medical student anywhere in Australia and would like "
            "confidential counselling."
        ),
        "provider_role": "counsellor",
        "session_limit": 3,
        "eligibility": "Doctors and medical students anywhere in Australia.",
        "eligible_career_stages": ALL_CAREER_STAGES,
        "is_nsw_health_only": False,
        "hours_of_service": "Phone line 24 hours, 7 days",
        "phone": "1300 374 377",
        "website": "https://www.drs4drs.com.au/",
        "offers_urgent_consult": True,
        "min_notice_hours": 24,
        "priority_min_notice_hours": 2,
        "display_order": 30,
    },
    {
        "code": "ama-vic-peer-support",
        "name": "AMA Victoria Peer Support",
        "short_name": "AMA Vic Peer Support",
        "description": (
            "An anonymous phone service staffed by volunteer doctors on a rotating roster, who "
            "call you back within 30 minutes. Only general statistics are kept."
        ),
        "fits_when": "You would like to talk anonymously with another doctor, today.",
        "eligibility": "Doctors and medical students.",
        "eligible_career_stages": ALL_CAREER_STAGES,
        "hours_of_service": "8am–10pm every day",
        "phone": "1300 853 338",
        "is_bookable": False,
        "display_order": 100,
    },
    {
        "code": "balint-groups",
        "name": "Balint groups",
        "short_name": "Balint groups",
        "description": (
            "Small groups of doctors, led by trained facilitators, who meet for one and a half "
            "to two hours to reflect on the relationships in their clinical work."
        ),
        "fits_when": "You would like to reflect on difficult clinical relationships with peers.",
        "eligibility": "Doctors and medical students.",
        "eligible_career_stages": ALL_CAREER_STAGES,
        "session_minutes": 105,
        "is_bookable": False,
        "display_order": 110,
    },
    {
        "code": "adr",
        "name": "Australian Doctors in Recovery",
        "short_name": "ADR",
        "description": "Peer support meetings online, twice a week, for doctors in recovery.",
        "fits_when": "You are a doctor looking for peer support in recovery from addiction.",
        "eligibility": "Doctors.",
        "eligible_career_stages": ALL_CAREER_STAGES,
        "hours_of_service": "Twice-weekly online meetings",
        "is_bookable": False,
        "display_order": 120,
    },
    {
        "code": "mbansw",
        "name": "Medical Benevolent Association of NSW",
        "short_name": "MBANSW",
        "description": "Counselling and short-term financial help for doctors and their families.",
        "fits_when": "You or your family are under financial or personal strain.",
        "eligibility": "Doctors in NSW and their families.",
        "eligible_career_stages": ALL_CAREER_STAGES,
        "phone": "02 9987 0504",
        "is_bookable": False,
        "display_order": 130,
    },
]

LHD, NETWORK, HEALTH_SERVICE = "lhd", "network", "health_service"

# (code, name, state, kind, facilities)
DISTRICTS = [
    (
        "central-coast-lhd",
        "Central Coast Local Health District",
        "NSW",
        LHD,
        ["Gosford Hospital", "Wyong Hospital"],
    ),
    ("far-west-lhd", "Far West Local Health District", "NSW", LHD, ["Broken Hill Hospital"]),
    (
        "hunter-new-england-lhd",
        "Hunter New England Local Health District",
        "NSW",
        LHD,
        [
            "John Hunter Hospital",
            "Calvary Mater Newcastle",
            "Maitland Hospital",
            "Tamworth Hospital",
            "Armidale Hospital",
            "Manning Hospital",
        ],
    ),
    (
        "illawarra-shoalhaven-lhd",
        "Illawarra Shoalhaven Local Health District",
        "NSW",
        LHD,
        ["Wollongong Hospital", "Shoalhaven District Memorial Hospital", "Shellharbour Hospital"],
    ),
    (
        "mid-north-coast-lhd",
        "Mid North Coast Local Health District",
        "NSW",
        LHD,
        [
            "Port Macquarie Base Hospital",
            "Coffs Harbour Health Campus",
            "Kempsey District Hospital",
        ],
    ),
    (
        "murrumbidgee-lhd",
        "Murrumbidgee Local Health District",
        "NSW",
        LHD,
        ["Wagga Wagga Base Hospital", "Griffith Base Hospital"],
    ),
    (
        "nepean-blue-mountains-lhd",
        "Nepean Blue Mountains Local Health District",
        "NSW",
        LHD,
        [
            "Nepean Hospital",
            "Blue Mountains District ANZAC Memorial Hospital",
            "Lithgow Hospital",
            "Hawkesbury District Health Service",
        ],
    ),
    (
        "northern-nsw-lhd",
        "Northern NSW Local Health District",
        "NSW",
        LHD,
        ["Lismore Base Hospital", "Tweed Valley Hospital", "Grafton Base Hospital"],
    ),
    (
        "northern-sydney-lhd",
        "Northern Sydney Local Health District",
        "NSW",
        LHD,
        [
            "Royal North Shore Hospital",
            "Hornsby Ku-ring-gai Hospital",
            "Ryde Hospital",
            "Mona Vale Hospital",
        ],
    ),
    (
        "south-eastern-sydney-lhd",
        "South Eastern Sydney Local Health District",
        "NSW",
        LHD,
        [
            "Prince of Wales Hospital",
            "St George Hospital",
            "Sutherland Hospital",
            "Royal Hospital for Women",
        ],
    ),
    (
        "south-western-sydney-lhd",
        "South Western Sydney Local Health District",
        "NSW",
        LHD,
        [
            "Liverpool Hospital",
            "Campbelltown Hospital",
            "Bankstown-Lidcombe Hospital",
            "Fairfield Hospital",
            "Camden Hospital",
        ],
    ),
    (
        "southern-nsw-lhd",
        "Southern NSW Local Health District",
        "NSW",
        LHD,
        ["Goulburn Base Hospital", "South East Regional Hospital", "Queanbeyan Hospital"],
    ),
    (
        "sydney-lhd",
        "Sydney Local Health District",
        "NSW",
        LHD,
        [
            "Royal Prince Alfred Hospital",
            "Concord Repatriation General Hospital",
            "Canterbury Hospital",
        ],
    ),
    (
        "western-nsw-lhd",
        "Western NSW Local Health District",
        "NSW",
        LHD,
        ["Dubbo Base Hospital", "Orange Health Service", "Bathurst Health Service"],
    ),
    (
        "western-sydney-lhd",
        "Western Sydney Local Health District",
        "NSW",
        LHD,
        ["Westmead Hospital", "Blacktown Hospital", "Mount Druitt Hospital", "Auburn Hospital"],
    ),
    (
        "sydney-childrens-hospitals-network",
        "Sydney Children's Hospitals Network",
        "NSW",
        NETWORK,
        ["Sydney Children's Hospital, Randwick", "The Children's Hospital at Westmead"],
    ),
    (
        "justice-health-network",
        "Justice Health and Forensic Mental Health Network",
        "NSW",
        NETWORK,
        ["Long Bay Hospital", "Forensic Hospital"],
    ),
    (
        "st-vincents-health-network",
        "St Vincent's Health Network Sydney",
        "NSW",
        NETWORK,
        ["St Vincent's Hospital Sydney", "Sacred Heart Health Service"],
    ),
    (
        "alfred-health",
        "Alfred Health",
        "VIC",
        HEALTH_SERVICE,
        ["The Alfred", "Caulfield Hospital", "Sandringham Hospital"],
    ),
    (
        "austin-health",
        "Austin Health",
        "VIC",
        HEALTH_SERVICE,
        ["Austin Hospital", "Heidelberg Repatriation Hospital"],
    ),
    ("barwon-health", "Barwon Health", "VIC", HEALTH_SERVICE, ["University Hospital Geelong"]),
    ("bendigo-health", "Bendigo Health", "VIC", HEALTH_SERVICE, ["Bendigo Hospital"]),
    (
        "eastern-health",
        "Eastern Health",
        "VIC",
        HEALTH_SERVICE,
        ["Box Hill Hospital", "Maroondah Hospital", "Angliss Hospital"],
    ),
    (
        "grampians-health",
        "Grampians Health",
        "VIC",
        HEALTH_SERVICE,
        ["Ballarat Base Hospital", "Horsham Hospital"],
    ),
    (
        "goulburn-valley-health",
        "Goulburn Valley Health",
        "VIC",
        HEALTH_SERVICE,
        ["Shepparton Hospital"],
    ),
    (
        "latrobe-regional-health",
        "Latrobe Regional Health",
        "VIC",
        HEALTH_SERVICE,
        ["Latrobe Regional Hospital"],
    ),
    (
        "albury-wodonga-health",
        "Albury Wodonga Health",
        "VIC",
        HEALTH_SERVICE,
        ["Albury Wodonga Health, Albury campus", "Albury Wodonga Health, Wodonga campus"],
    ),
    (
        "mercy-health",
        "Mercy Hospitals Victoria",
        "VIC",
        HEALTH_SERVICE,
        ["Mercy Hospital for Women", "Werribee Mercy Hospital"],
    ),
    (
        "monash-health",
        "Monash Health",
        "VIC",
        HEALTH_SERVICE,
        ["Monash Medical Centre", "Dandenong Hospital", "Casey Hospital", "Moorabbin Hospital"],
    ),
    (
        "northern-health",
        "Northern Health",
        "VIC",
        HEALTH_SERVICE,
        ["Northern Hospital Epping", "Broadmeadows Hospital"],
    ),
    (
        "peninsula-health",
        "Peninsula Health",
        "VIC",
        HEALTH_SERVICE,
        ["Frankston Hospital", "Rosebud Hospital"],
    ),
    (
        "peter-mac",
        "Peter MacCallum Cancer Centre",
        "VIC",
        HEALTH_SERVICE,
        ["Peter MacCallum Cancer Centre"],
    ),
    (
        "royal-childrens-hospital",
        "The Royal Children's Hospital",
        "VIC",
        HEALTH_SERVICE,
        ["The Royal Children's Hospital"],
    ),
    (
        "royal-melbourne-hospital",
        "The Royal Melbourne Hospital",
        "VIC",
        HEALTH_SERVICE,
        ["Royal Melbourne Hospital, City Campus", "Royal Park Campus"],
    ),
    (
        "royal-victorian-eye-and-ear",
        "Royal Victorian Eye and Ear Hospital",
        "VIC",
        HEALTH_SERVICE,
        ["Royal Victorian Eye and Ear Hospital"],
    ),
    (
        "royal-womens-hospital",
        "The Royal Women's Hospital",
        "VIC",
        HEALTH_SERVICE,
        ["The Royal Women's Hospital"],
    ),
    (
        "south-west-healthcare",
        "South West Healthcare",
        "VIC",
        HEALTH_SERVICE,
        ["Warrnambool Base Hospital"],
    ),
    (
        "st-vincents-melbourne",
        "St Vincent's Hospital Melbourne",
        "VIC",
        HEALTH_SERVICE,
        ["St Vincent's Hospital Melbourne"],
    ),
    (
        "western-health",
        "Western Health",
        "VIC",
        HEALTH_SERVICE,
        ["Footscray Hospital", "Sunshine Hospital", "Williamstown Hospital"],
    ),
    (
        "west-gippsland-healthcare",
        "West Gippsland Healthcare Group",
        "VIC",
        HEALTH_SERVICE,
        ["West Gippsland Hospital"],
    ),
    (
        "mildura-base-public-hospital",
        "Mildura Base Public Hospital",
        "VIC",
        HEALTH_SERVICE,
        ["Mildura Base Public Hospital"],
    ),
    (
        "echuca-regional-health",
        "Echuca Regional Health",
        "VIC",
        HEALTH_SERVICE,
        ["Echuca Regional Hospital"],
    ),
    (
        "northeast-health-wangaratta",
        "Northeast Health Wangaratta",
        "VIC",
        HEALTH_SERVICE,
        ["Wangaratta Hospital"],
    ),
]


def reference_data_load(*, program_model, district_model, facility_model) -> None:
    """Create or update every program, district and facility above. Safe to run again."""
    for fields in PROGRAMS:
        program_model.objects.update_or_create(code=fields["code"], defaults=fields)
    for code, name, state, kind, facilities in DISTRICTS:
        district, _ = district_model.objects.update_or_create(
            code=code, defaults={"name": name, "state": state, "kind": kind}
        )
        for facility_name in facilities:
            facility_model.objects.get_or_create(district=district, name=facility_name)
