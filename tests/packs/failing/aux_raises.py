def rule(event):
    return True


def title(event):
    raise ValueError("no title today")


def severity(event):
    return "EXTREME"


def description(event):
    return 42
