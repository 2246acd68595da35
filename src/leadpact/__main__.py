"""`python -m leadpact` runs the command line."""

from leadpact.cli import main

main()
