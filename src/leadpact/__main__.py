"""`python -m leadpact` runs the command line."""

from leadpact.cli import main

if __name__ == "__main__":  # a multiprocessing child importing this module must not run the CLI
    main()
