"""Crisis lines for the footer of every page."""

CRISIS_LINES = (
    ("Emergency", "000"),
    ("Lifeline (24/7)", "13 11 14"),
    ("NSW Mental Health Line (24/7)", "1800 011 511"),
    ("Drs4Drs (24/7)", "1300 374 377"),
)


def crisis_lines(request):
    return {"crisis_lines": CRISIS_LINES}
