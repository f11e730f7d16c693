"""Run the command line with ``python -m provstore``."""

from provstore.cli import main

if __name__ == "__main__":
    main()
