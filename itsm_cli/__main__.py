"""``python -m itsm_cli``."""

from itsm_cli.cli import main

if __name__ == "__main__":
    main()
