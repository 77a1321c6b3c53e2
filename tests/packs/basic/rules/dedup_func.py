def rule(event):
    return "user" in event


def title(event):
    return "user " + event["user"]


def dedup(event):
    return event["user"]
