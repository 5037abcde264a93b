"""The `proctor` command line: run a flow from a file, draw its graph, report versions.

Each command lives in its own module and imports the engine, rich and the user's code only inside
its body, so `proctor --help` answers without paying for any of them.
"""
