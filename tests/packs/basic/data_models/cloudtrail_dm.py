def get_event_type(event):
    if event.get("eventName") == "ConsoleLogin":
        return "login"
    return "other"
