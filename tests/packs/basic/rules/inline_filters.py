from ocelot_pack_helpers import is_admin


def rule(event):
    return event.get("eventName") == "DeleteTrail" and not is_admin("alice")
