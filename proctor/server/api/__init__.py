"""The HTTP API: the app factory, schemas, dependencies, and one router per resource."""
