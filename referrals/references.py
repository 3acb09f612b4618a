"""Reference codes people read out on the phone: short, random, with no look-alike characters.

A code says nothing about the person; uniqueness is the database's job (the caller retries on a
clash).
"""

import secrets

# No 0/O/Q/D, 1/I/L, 2/Z, 5/S, 6/G, 8/B, U/V: the pairs people misread or mishear.
REFERENCE_ALPHABET = "ACEFHJKMNPRTWXY3479"
MIN_LENGTH, MAX_LENGTH = 5, 12


def new_reference_code(length: int) -> str:
    """A random code of `length` characters from REFERENCE_ALPHABET."""
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"reference codes are {MIN_LENGTH} to {MAX_LENGTH} characters long")
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(length))
