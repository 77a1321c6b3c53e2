def rule(event):
    return True


def title(event):
    return "title for " + event["user"]


def dedup(event):
    return event["nope"]
