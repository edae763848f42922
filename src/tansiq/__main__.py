"""``python -m tansiq``: the ``tansiq`` command, for a Python without the script on PATH."""

from tansiq.cli.entry import main

main()
