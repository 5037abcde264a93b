"""`python -m proctor.cli ...`: the `proctor` command where no console script is installed."""

from .main import main

main()
