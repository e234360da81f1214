"""``python -m metarr``: the same as the ``metarr`` command."""

from metarr.cli import main

if __name__ == "__main__":
    main(prog_name="metarr")
