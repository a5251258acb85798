"""Properties of the cost reader over generated inputs: an amount is never free, any
text gives one of the three states, the same one twice, and a declared cost always
wins."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from community_catalog.costs import cost_state
from tests.community_catalog.test_cost_corpus import _no_numbers

FREE = "free"
PAID = "paid"
NOT_STATED = "not-stated"
STATES = {FREE, PAID, NOT_STATED}


@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=1, max_value=100_000), before=_no_numbers, after=_no_numbers)
def test_a_positive_euro_amount_is_never_free(n: int, before: str, after: str) -> None:
    assert cost_state(fees=[f"{before} {n} €{after}"]) != FREE


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=100_000), free_word=st.sampled_from(["Gratuit", "Free"])
)
def test_a_positive_euro_amount_beats_a_free_word(n: int, free_word: str) -> None:
    assert cost_state(fees=[f"{free_word}, {n} €"]) != FREE
    assert cost_state(fees=[f"{n} € \u2013 {free_word.lower()}"]) != FREE


# Words and phrases that say nothing about cost: no amount, no negation, no condition.
_IRRELEVANT = [
    "Atelier",
    "tricot",
    "jardinage",
    "Maison de quartier",
    "salle polyvalente",
    "le mardi",
    "après-midi",
    "convivialité",
    "bienvenue",
    # not "thé": "thé gratuit" is free tea, which says nothing of the activity's cost
    "conversation",
    "Chorale",
    "Lecture",
    "Marche douce",
    "bonne humeur",
    "Rendez-vous devant la mairie",
    "Knit and natter",
    "Walking group",
    "community centre",
    "Tuesdays",
    "welcome",
    "garden",
    "library",
    "🌻",
    "☕",
]
_separators = st.sampled_from([" ", ", ", " - ", " \u2013 ", "\n", " : ", ". ", " ! "])
_words = st.lists(st.sampled_from(_IRRELEVANT), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    before=_words,
    after=_words,
    gratuit=st.sampled_from(["Gratuit", "gratuit", "GRATUIT"]),
    sep=_separators,
)
def test_irrelevant_words_around_gratuit_keep_it_free(
    before: list[str], after: list[str], gratuit: str, sep: str
) -> None:
    text = sep.join([*before, gratuit, *after])
    assert cost_state(fees=[text]) == FREE


_amounts = st.lists(
    st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=2)),
    max_size=4,
)
_frais = st.one_of(st.none(), st.text(max_size=30), st.lists(st.text(max_size=30), max_size=4))


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_any_unicode_text_gives_one_of_the_three_states(text: str) -> None:
    assert cost_state(fees=[text]) in STATES


@settings(max_examples=300, deadline=None)
@given(fees=st.lists(st.text(), max_size=3), amounts=_amounts, frais=_frais)
def test_any_input_gives_one_of_the_three_states_and_the_same_one_twice(
    fees: list[str], amounts: list[Decimal | None], frais: str | list[str] | None
) -> None:
    first = cost_state(amounts=list(amounts), fees=list(fees), frais=frais)
    again = cost_state(amounts=list(amounts), fees=list(fees), frais=frais)
    assert first in STATES
    assert first == again


@settings(max_examples=200, deadline=None)
@given(
    declared=st.sampled_from([FREE, PAID]),
    fees=st.lists(st.text(), max_size=3),
    amounts=_amounts,
    frais=_frais,
)
def test_declared_always_wins(
    declared: str, fees: list[str], amounts: list[Decimal | None], frais: str | list[str] | None
) -> None:
    assert cost_state(declared=declared, amounts=amounts, fees=fees, frais=frais) == declared
