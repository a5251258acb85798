"""What every page form shares."""

from __future__ import annotations

from typing import Any, cast

from django import forms


def choices_set(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    cast(forms.ChoiceField, field).choices = choices


class PlainForm(forms.Form):
    """Labels without the trailing colon Django adds: the labels are whole questions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
