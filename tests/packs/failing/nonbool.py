def rule(event):
    return "yes"
