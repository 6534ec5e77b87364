"""`python -m datadrip` runs the command line."""

from datadrip.cli import main

main()
