def rule(event):
    names = event.deep_walk("Records", "requestParameters", "bucketName")
    if names != ["alpha", "beta"] or not isinstance(names, list):
        return False
    return (
        event.deep_walk("Records", "requestParameters", "bucketName", return_val="first") == "alpha"
        and event.deep_walk("Records", "requestParameters", "bucketName", return_val="last")
        == "beta"
        and event.deep_walk("single", "value") == "only"
        and event.deep_walk("nested", default="empty") == "empty"
        and event.deep_walk("records", "requestParameters", default="x") == "x"  # exact keys
        and event.deep_walk("missing", default="gone") == "gone"
        and event.deep_get("records", "nope", default="dflt") == "dflt"
        and event.deep_get("missing") is None
    )
