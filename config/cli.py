"""The `tisser` command: Django's management commands with Tisser's settings.

`tisser create-center NAME` is `django-admin create_center NAME`; hyphens and underscores
are interchangeable in the command name. `tisser --version` prints Tisser's version (not
Django's, which is what Django's own `--version` would print).
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        # The installed distribution's metadata: pyproject.toml's version, as built.
        sys.stdout.write(f"tisser {version('tisser')}\n")
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    argv = list(sys.argv)
    argv[0] = "tisser"
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")

    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"tisser: configuration error: {exc}\n")
        raise SystemExit(2) from None

    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
