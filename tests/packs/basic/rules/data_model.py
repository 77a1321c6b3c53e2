def rule(event):
    if event.udm("actor_user") != "alice":
        return False
    if event.get("p_log_type") == "Okta.SystemLog":
        return event.udm_path("actor_user") == "actor.alternateId" and event.udm("source_ip") is None
    try:
        event.udm("resource_arns")
        return False  # a path that matches several fields must raise, as in Panther
    except Exception as err:  # pylint: disable=broad-except
        if "matched multiple fields" not in str(err):
            return False
    return (
        event.udm("source_ip") == "10.0.0.1"
        and event.udm("event_type") == "login"
        and event.udm_path("event_type") == "get_event_type"
        and event.udm_path("actor_user") == "$.userIdentity.userName"
        and event.udm("first_resource_arn") == "arn:aws:s3:::one"
        and event.udm("eventName") == "ConsoleLogin"  # not in the model: falls back to the event
        and event.udm("not_mapped", default="d") == "d"
        and event.udm_path("not_mapped") is None
    )
