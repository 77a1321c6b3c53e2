def rule(event):
    if "stop" in event:
        return False
    n = 0
    while True:
        try:
            n += 1
        except Exception:  # a rule catching Exception must not swallow the timeout
            pass
