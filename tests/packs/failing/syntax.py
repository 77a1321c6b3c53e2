def rule(event):
    return (

