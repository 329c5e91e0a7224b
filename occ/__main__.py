"""``python -m occ``: the same as the ``occ`` command."""

from occ.cli import main

raise SystemExit(main())
