"""What an activity costs, in three states: free, paid, or not stated.

One function decides (`cost_state`), and everything that speaks of cost reads its answer:
the matching index (`free_only` and the cost part of the score), search, slips, the
public page and reports. A slip can then never print "Free" for what matching counted as
paid.

Real directories state cost in many ways: HSDS cost options with amounts, a
`fees_description` written by a volunteer ("Gratuit", "Adhésion 10 €/an", "Free for
carers, £3 otherwise"), data·inclusion's `frais` ("gratuit", "payant"), or nothing at
all. The rules, in order:

1. What the organisation declared (`Service.cost_declared`) wins.
2. Any amount above zero, in a cost option or written in the text, is paid: the person
   may be asked for it, whatever else the text says ("Gratuit, adhésion 10 €/an").
3. A word that says there is something to pay ("payant", "cotisation", "fees apply",
   "pas gratuit") is paid.
4. Cost options that are all zero, a text that says free ("gratuit", "entrée libre",
   "free of charge", "0 €", "sans frais"), or data·inclusion's "gratuit", is free.
5. data·inclusion's "payant", "adhesion" or "pass-numerique" is paid.
6. Anything else is not stated, including pay-what-you-can ("participation libre") and
   free on conditions of income ("sous conditions de ressources", "free to those on
   benefits"): Tisser cannot promise it costs nothing, and cannot say this person will
   pay either (people referred are often the ones it is free for), so they are told to
   ask. A membership ("gratuit pour les adhérents") is paid: it usually has a price.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

CostState = Literal["free", "paid", "not-stated"]
FREE: CostState = "free"
PAID: CostState = "paid"
NOT_STATED: CostState = "not-stated"
COST_STATES: tuple[CostState, ...] = (FREE, PAID, NOT_STATED)

# Phrases that say there is nothing to pay, French and English, without accents and in
# lower case (texts are folded the same way before they are read). Read first and
# removed, so that "no fee" or "sans frais" is not read as a fee.
_FREE_PHRASES = (
    r"adhesion (?:gratuite|offerte)",
    r"gratuite?s?",
    r"gratuitement",
    r"gracieusement",
    r"entree libre",
    r"entree gratuite",
    r"acces libre",
    r"acces gratuit",
    r"sans frais",
    r"aucun frais",
    r"pas de frais",
    r"sans cout",
    r"aucun cout",
    r"sans participation",
    r"aucune participation",
    r"(?:sans|pas de|aucune|ni) (?:cotisation|adhesion)",
    r"ni frais",
    r"(?:(?:ce )?n'est |ne sont )?pas payante?s?",
    r"(?:frais|inscription|adhesion|cotisation)(?: d'\w+)? offerte?s?",
    r"offerte?s?",
    r"free membership",
    r"membership (?:is )?free",
    r"non payante?s?",
    r"free(?: of charge)?",
    r"for free",
    r"at no cost",
    r"no cost",
    r"no charges?",
    r"without charge",
    r"no fees?",
    r"fee[- ]free",
    r"costs? nothing",
)
# Negated free phrases: something to pay.
_NOT_FREE = re.compile(
    r"\b(?:pas|non|plus|jamais) (?:tout a fait |entierement |totalement )?gratuite?s?\b"
    r"|\bn(?:'| )est pas gratuite?\b"
    r"|\bnot (?:entirely |totally |completely )?free\b"
    r"|\bisn'?t free\b"
)
_FREE = re.compile(r"\b(?:" + "|".join(_FREE_PHRASES) + r")\b")
# Something beside the activity that is free ("free parking", "café offert"): says
# nothing of what the activity costs.
_FREE_EXTRA = re.compile(
    r"\bfree (?:parking|tea|coffee|refreshments?|transport|wi-?fi|lunch|meals?|snacks?|drinks?)\b"
    r"|\b(?:parking|transport|cafe|the|boissons?|gouter|collation|repas|wi-?fi|navette)"
    r"(?: (?:est|sont))? (?:gratuite?s?|offerte?s?)\b"
    # Free of something, or free to do something: nothing of the cost.
    r"|\b(?:alcohol|gluten|sugar|smoke|dairy|nut|fat|stress|barrier|step|car)[- ]free\b"
    r"|\bfeel free\b|\bfree to (?!attend\b|join\b|take part\b|come\b|use\b|all\b)\w+"
)
# Free at first only, or free but for something: the person will be asked to pay.
_FREE_AT_FIRST = re.compile(
    r"\b(?:premiers?|premieres?|1(?:ere|er|re)s?|deux premier(?:e)?s|2 premier(?:e)?s) "
    r"(?:seances?|cours|fois|ateliers?|semaines?|mois|annees?|ans?|rendez-vous|essais?)\b"
    r"|\bseances? d'essai\b|\bessai gratuit\b|\bfirst (?:session|class|visit|week|month)s?\b"
    r"|\btaster\b|\btrial\b"
)
_EXCEPT = re.compile(r"\b(?:sauf|hormis|except|excluding|apart from)\b")
# Something to pay for beside it: "materials extra", "sorties en supplément", "bring
# money for the bus".
_EXTRA_COST = re.compile(
    r"\b(?:materials?|materiel|fournitures|supplies|trips?|outings?|sorties?|repas|meals?|"
    r"entry|entree)\W+(?:\w+\W+){0,2}(?:extra|en supplement|payante?s?|a payer|a votre charge|"
    r"not included|non compris)\b"
    r"|\b(?:bring|prevoir|apporter) (?:some |de l')?(?:money|argent|cash)\b"
)
# Said of something else than the person's cost ("transport pris en charge", "costs
# covered by the participant"): taken out, read as nothing either way.
_NEUTRAL = re.compile(
    r"\b(?:pris|prise|prises) en charge\b|\b(?:costs? )?(?:are |is )?(?:fully )?covered\b"
)
# Words that say there is something to pay, once free phrases are taken out.
_PAID = re.compile(
    r"\b(?:"
    r"payante?s?|a payer|a regler|cotisations?|frais|pass numerique|caution|"
    r"paid|paying|fees?|chargeable|subscription|concessions?|deposit|"
    r"euros?|livres sterling|pounds?|"
    # A membership: it usually has a price, even when the text does not say it.
    r"adhesion|adherente?s?|membership|for members|members only|"
    r"(?:pour les|reserve aux|aux) membres"
    r")\b"
)
# Words for a price, which only say "paid" when nothing says free ("Tarif : 0 €").
_PRICE = re.compile(
    r"\b(?:tarifs?|tarife|tarification|prix|price|priced|prices|costs?|charges?|ticket)\b"
)
# Free for some people only (on conditions of income, on benefits): the person must ask.
_CONDITIONAL = re.compile(
    r"\b(?:sous conditions?|selon (?:les )?(?:revenus|ressources)|"
    r"sliding scale|means[- ]tested|eligibles?|on benefits|beneficiaires)\b"
    # Free for some by age or residence ("for over 65s", "pour les habitants de Lyon"):
    # this person may not be one of them.
    r"|\b(?:pour|reserve aux|reservee aux|aux|for|only for)\s+(?:les\s+)?"
    r"(?:enfants|children|kids|jeunes|young people|seniors|retraites|habitants|residents|"
    r"(?:moins|plus) de \d+ ans|over \d+s?|under \d+s?)\b"
)
# Pay-what-you-can: nothing promised either way.
_OPEN_PRICE = re.compile(
    r"\b(?:participation|prix|contribution|don) (?:libre|consciente|volontaire|au chapeau)\b"
    r"|\bau chapeau\b|\bpay (?:what|as) you (?:can|want|wish|feel)\b|\bby donation\b"
)
# A symbol, or a code or word (not followed by a letter: "eur" is not "europe").
_CURRENCY = r"(?:[€£$]|(?:eur|euros?|gbp|usd|chf|francs?)(?![a-z]))"
_NUMBER = r"(\d{1,6}(?:[.,]\d{1,2})?)"
# "10 €", "2,50€", "3€50", "5 euros", "3 EUR", "€3", "£ 2.50", "EUR 12".
_AMOUNT = re.compile(
    r"(?<![\w.,])" + _NUMBER + r"\s?" + _CURRENCY + r"(?:\d{2}(?!\d))?"
    r"|(?:€|£|\$|\beur\b)\s?" + _NUMBER + r"(?![\d])"
    # Pence: "tea and cake 50p", "20 pence"; not "2 p.m." nor "8 p. maximum".
    r"|(?<![\w.,])(\d{2,3})p(?![\w.])|(?<![\w.,])(\d{1,3}) ?pence\b"
)


def text_fold(text: str) -> str:
    """Lower case, without accents, apostrophes and spaces made plain: "Entrée  Libre"
    → "entree libre"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ")
    return " ".join(bare.casefold().split())


def _amounts_in(text: str) -> list[Decimal]:
    found = []
    for match in _AMOUNT.finditer(text):
        number = next(group for group in match.groups() if group)
        try:
            found.append(Decimal(number.replace(",", ".")))
        except ArithmeticError:  # pragma: no cover - the pattern admits only numbers
            continue
    return found


def text_cost_state(text: str) -> CostState:
    """What a fees text says, alone: paid, free, or not stated.

    1. A positive amount, or free negated ("pas gratuit"), is paid.
    2. What is said of something else is taken out: free extras ("free parking",
       "alcohol-free"), costs someone else covers ("transport pris en charge").
    3. Something to pay beside it ("materials extra", "bring money"), free at first only
       ("première séance gratuite"), or free except for something ("gratuit sauf
       sorties"), is paid.
    4. A word of payment ("payant", "cotisation", "fees apply"), or of a price when
       nothing says free ("tarifs selon quotient"), is paid.
    5. Pay-what-you-can with no free phrase, or free on conditions (income, age,
       residence), is not stated; a free phrase or a zero amount is free.
    """
    folded = text_fold(text)
    if not folded:
        return NOT_STATED
    amounts = _amounts_in(folded)
    if any(amount > 0 for amount in amounts) or _NOT_FREE.search(folded):
        return PAID
    folded = _NEUTRAL.sub(" ", _FREE_EXTRA.sub(" ", folded))
    said_free = bool(_FREE.search(folded)) or bool(amounts)
    remainder = _AMOUNT.sub(" ", _FREE.sub(" ", folded))
    if _EXTRA_COST.search(folded):
        return PAID
    if said_free and (_FREE_AT_FIRST.search(folded) or _EXCEPT.search(remainder)):
        return PAID
    if _OPEN_PRICE.search(remainder) and not said_free:
        return NOT_STATED
    if _PAID.search(remainder) or (not said_free and _PRICE.search(remainder)):
        return PAID
    if _CONDITIONAL.search(remainder):
        return NOT_STATED
    return FREE if said_free else NOT_STATED


_FRAIS_PAID = {"payant", "adhesion", "pass-numerique"}
_FRAIS_FREE = {"gratuit"}


def frais_cost_state(frais: str | Iterable[str] | None) -> CostState:
    """data·inclusion's `frais`: one value in schema v1 ("gratuit", "payant"), a list in
    v0 (also "gratuit-sous-conditions", "adhesion", "pass-numerique"). Free under
    conditions the person may not meet is not stated."""
    if frais is None:
        return NOT_STATED
    values = {frais} if isinstance(frais, str) else set(frais)
    values = {text_fold(v) for v in values if isinstance(v, str)}
    if values & _FRAIS_PAID:
        return PAID
    if values and values <= _FRAIS_FREE:
        return FREE
    return NOT_STATED


def cost_state(
    *,
    declared: str | None = None,
    amounts: Iterable[Decimal | int | float | None] = (),
    fees: Iterable[str] = (),
    frais: str | Iterable[str] | None = None,
) -> CostState:
    """Free, paid or not stated: the one decision every part of Tisser reads.

    `declared`: what the organisation said ("free", "paid", or "not-stated" when it
    wants people to ask); `amounts`: HSDS cost
    options' amounts; `fees`: `fees_description` texts (the original and its
    translations); `frais`: data·inclusion's value(s).
    """
    if declared in COST_STATES:
        return FREE if declared == FREE else PAID if declared == PAID else NOT_STATED
    options = list(amounts)
    given = [Decimal(str(a)) for a in options if a is not None]
    texts = [text_cost_state(t) for t in fees if isinstance(t, str) and t.strip()]
    from_frais = frais_cost_state(frais)
    if any(a > 0 for a in given) or PAID in texts or from_frais == PAID:
        return PAID
    # Every option priced at zero; an option without an amount may be the one to pay.
    all_zero = bool(options) and len(given) == len(options)
    if all_zero or FREE in texts or from_frais == FREE:
        return FREE
    return NOT_STATED
