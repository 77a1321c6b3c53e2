def rule(event):
    return event.get("kind") in ("long", "critical", "big")


def title(event):
    if event.get("kind") == "long":
        return "x" * 1500
    return f"{event.get('kind')} by {event.get('user')}"


def severity(event):
    return "critical" if event.get("kind") == "critical" else "DEFAULT"


def alert_context(event):
    if event.get("kind") == "big":
        return {"blob": "y" * (300 * 1024)}
    return {"user": event.get("user"), "event": event, "n": 1}


def description(event):
    return "description for " + event.get("user")


def destinations(event):
    if event.get("kind") == "critical":
        return []
    if event.get("kind") == "big":
        return ["d%d" % i for i in range(12)]
    return None
