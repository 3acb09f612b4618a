"""The collection notice people accept before they start, as versioned text.

Each version's wording lives in its own template and is never edited once published: a new
wording gets a new version, so the version stored with a referral names exactly what was read.
"""

COLLECTION_NOTICE_VERSION = "2026-11"

COLLECTION_NOTICE_TEMPLATES = {
    "2026-11": "referrals/notices/collection_notice_2026-11.html",
}


def collection_notice_template(version: str = COLLECTION_NOTICE_VERSION) -> str:
    """The template holding the wording of `version`; KeyError for an unknown version."""
    return COLLECTION_NOTICE_TEMPLATES[version]
