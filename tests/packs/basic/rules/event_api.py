import json


def rule(event):
    plain = event.copy()
    if type(plain) is not dict or type(plain["b"]["c"]) is not list:
        return False
    if event.to_dict() != plain or event != plain:
        return False
    if json.loads(json.dumps(event)) != plain:
        return False
    if json.loads(json.dumps({"inner": event["b"]})) != {"inner": plain["b"]}:
        return False
    keys = list(event.keys())
    if keys != ["p_event_time", "a", "b", "f", "n"] or list(event) != keys:
        return False
    if dict(event.items())["a"] != 1 or len(event) != 5 or event["f"] != 1.5:
        return False
    if event["b"]["c"][2]["D"] != "x" or event["n"] is not None:
        return False
    return event.event_time_epoch() == 1709294405
