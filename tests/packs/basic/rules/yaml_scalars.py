def rule(event):
    return (
        event["mfa"] == "yes"
        and event["off_value"] == "off"
        and event["on_value"] == "On"
        and event["flag"] is True
        and event["when"] == "2024-01-01"
        and event["octal"] == 15
        and event["leading_zero"] == 12
        and event["float"] == 0.5
        and event["nothing"] is None
        and event["quoted"] == "true"
    )
