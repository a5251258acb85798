"""The `tisser` command: Django's management commands with Tisser's settings.

`tisser create-center NAME` is `django-admin create_center NAME`; hyphens and underscores
are interchangeable in the command name.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
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
