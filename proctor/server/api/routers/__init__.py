"""One router per resource, each mounted by `create_app`."""
