from ocelot_pack_helpers import owner_of


def threshold():
    return 100


def rule(event):
    return owner_of(event.get("resource")) == "alice" and event.get("count") > threshold()
