from collections.abc import Mapping, Sequence


def rule(event):
    # immutability: assignment must fail
    try:
        event["eventName"] = "x"
        return False
    except TypeError:
        pass
    if not isinstance(event, Mapping) or isinstance(event, dict):
        return False
    tags = event.get("TAGS")
    if tags is None:
        return False
    if not (isinstance(tags, Sequence) and tags == ["a", "b"] and tags == ("a", "b")):
        return False
    return (
        event["EVENTNAME"] == "ConsoleLogin"
        and "SourceIPAddress" in event
        and event.get("useridentity").get("TYPE") == "Root"
        and event.deep_get("USERIDENTITY", "sessioncontext", "Attributes", "MFAAuthenticated")
        == "false"
    )
