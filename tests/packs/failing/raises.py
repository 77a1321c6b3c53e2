def rule(event):
    return event["missing"] == 1
