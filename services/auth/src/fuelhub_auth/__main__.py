"""``python -m fuelhub_auth`` is the ``fuelhub-auth`` CLI."""

from fuelhub_auth.cli import main

main()
