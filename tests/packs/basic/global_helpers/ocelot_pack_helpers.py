"""Shared helpers: imported by the rules as `ocelot_pack_helpers`."""

ADMIN_NAMES = {"root", "admin", "administrator"}


def is_admin(name):
    return str(name).lower() in ADMIN_NAMES


def owner_of(resource):
    # replaced by a mock in the tests that need a specific owner
    return "nobody"
