"""The module dramatiq's CLI imports in each worker process (`tisser worker`)."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()  # sets the broker up and declares the actors (workers.apps)
