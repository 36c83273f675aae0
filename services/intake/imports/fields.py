"""The fields an imported row can fill, and guessing which column is which from its header.

A header is compared, folded (no case, accents or punctuation), with the names below in
Finnish, English and Swedish: first as a whole ("Sähköposti" is email), then as words
inside a longer header ("Sähköpostiosoitteesi (pakollinen)" or "What is your e-mail?").
Each field takes at most one column and each column at most one field; whole matches and
longer names win.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.intake.imports.normalise import fold

FIELDS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "email",
    "phone",
    "language",
    "birth_year",
    "occupation",
    "education_level",
    "education_field",
    "education_country",
    "finnish",
    "english",
    "native_language",
    "other_languages",
    "region",
    "municipality",
    "remote_ok",
    "goals",
    "employer",
    "capacity",
    "consent_processing",
    "consent_background",
    "consent_rollover",
    "identifies_as_woman",
    "immigrant_background",
    "country_of_origin",
)
REQUIRED: frozenset[str] = frozenset(
    {"given_name", "family_name", "email", "occupation", "education_level", "consent_processing"}
)
"""Without a column for these no row can be valid (region may come from the municipality)."""
MENTOR_ONLY = frozenset({"employer", "capacity"})
MENTEE_ONLY = frozenset({"identifies_as_woman"})

NAMES: dict[str, tuple[str, ...]] = {
    "given_name": (
        "etunimi", "etunimet", "kutsumanimi", "first name", "firstname", "given name",
        "given names", "forename", "förnamn", "tilltalsnamn",
    ),
    "family_name": (
        "sukunimi", "last name", "lastname", "surname", "family name", "efternamn",
        "släktnamn",
    ),
    "email": (
        "sähköposti", "sähköpostiosoite", "sposti", "s posti", "email", "e mail",
        "email address", "e mail address", "mail", "e post", "epost", "e postadress",
    ),
    "phone": (
        "puhelin", "puhelinnumero", "puh", "matkapuhelin", "gsm", "phone", "phone number",
        "telephone", "mobile", "mobile phone", "telefon", "telefonnummer", "mobil",
    ),
    "language": (
        "asiointikieli", "yhteydenpitokieli", "kieli", "language", "preferred language",
        "contact language", "language of correspondence", "språk", "kontaktspråk",
    ),
    "birth_year": (
        "syntymävuosi", "syntymäaika", "birth year", "year of birth", "date of birth",
        "birth date", "födelseår", "födelsedatum", "födelsetid",
    ),
    "occupation": (
        "ammatti", "ammattinimike", "ammattiala", "työtehtävä", "isco", "isco koodi",
        "isco code", "isco 08", "occupation", "profession", "job title", "field of work",
        "professional field", "yrke", "yrkestitel", "titel",
    ),
    "education_level": (
        "koulutustaso", "tutkinto", "korkein tutkinto", "tutkintotaso", "education level",
        "level of education", "degree", "highest degree", "isced", "isced level",
        "utbildningsnivå", "examen", "högsta examen",
    ),
    "education_field": (
        "koulutusala", "opintoala", "pääaine", "tutkinnon ala", "field of education",
        "field of study", "education field", "major", "isced field", "utbildningsområde",
        "studieområde", "huvudämne",
    ),
    "education_country": (
        "tutkintomaa", "tutkinnon maa", "tutkinnon suoritusmaa", "koulutusmaa",
        "country of education", "education country", "degree country", "country of degree",
        "examensland", "utbildningsland",
    ),
    "finnish": (
        "suomi", "suomen kieli", "suomen kielen taso", "suomen kielitaito", "suomen taso",
        "finnish", "finnish level", "finnish language", "finnish language level",
        "finnish skills", "finska", "finska kunskaper", "finskanivå",
    ),
    "english": (
        "englanti", "englannin kieli", "englannin kielen taso", "englannin kielitaito",
        "english", "english level", "english language", "english language level",
        "english skills", "engelska", "engelska kunskaper", "engelskanivå",
    ),
    "native_language": (
        "äidinkieli", "native language", "mother tongue", "first language", "modersmål",
    ),
    "other_languages": (
        "muut kielet", "muu kielitaito", "muiden kielten taito", "other languages",
        "other language skills", "languages", "övriga språk", "andra språk", "kielitaito",
    ),
    "region": (
        "maakunta", "asuinmaakunta", "alue", "region", "landskap", "area",
    ),
    "municipality": (
        "kunta", "kotikunta", "asuinkunta", "paikkakunta", "kaupunki", "asuinpaikka",
        "municipality", "city", "town", "home municipality", "kommun", "hemkommun", "ort",
    ),
    "remote_ok": (
        "etä", "etätapaamiset", "etätapaamiset ok", "etäyhteys", "etämentorointi",
        "remote", "remote ok", "remote meetings", "online", "online meetings",
        "distans", "distansmöten",
    ),
    "goals": (
        "tavoitteet", "tavoite", "motivaatio", "mitä voit tarjota", "tarjoan", "kuvaus",
        "goals", "goal", "motivation", "what can you offer", "offer", "description",
        "mål", "motivering", "vad kan du erbjuda",
    ),
    "employer": (
        "työnantaja", "työpaikka", "nykyinen työnantaja", "organisaatio", "employer",
        "current employer", "company", "organisation", "organization", "arbetsgivare",
        "arbetsplats",
    ),
    "capacity": (
        "kapasiteetti", "mentoroitavien määrä", "mentoroitavia", "montako mentoroitavaa",
        "capacity", "number of mentees", "mentees", "kapacitet", "antal adepter",
    ),
    "consent_processing": (
        "suostumus", "suostumus tietojen käsittelyyn", "tietojen käsittely",
        "henkilötietojen käsittely", "tietosuoja", "consent", "consent processing",
        "consent to processing", "data processing", "privacy", "gdpr", "samtycke",
        "samtycke till behandling",
    ),
    "consent_background": (
        "suostumus taustatietoihin", "taustasuostumus", "suostumus taustatiedot",
        "consent background", "background consent", "consent to background questions",
        "samtycke bakgrund",
    ),
    "consent_rollover": (
        "siirto seuraavaan", "siirto seuraavaan ryhmään", "seuraava ryhmä",
        "suostumus siirtoon", "rollover", "consent rollover", "next cycle",
        "move to next cycle", "överföring", "nästa omgång",
    ),
    "identifies_as_woman": (
        "nainen", "sukupuoli", "identifioidun naiseksi", "woman", "gender",
        "identifies as woman", "identifies as a woman", "kvinna", "kön",
    ),
    "immigrant_background": (
        "maahanmuuttajatausta", "maahanmuuttotausta", "maahanmuuttanut",
        "immigrant background", "migrant background", "migration background",
        "invandrarbakgrund", "utländsk bakgrund",
    ),
    "country_of_origin": (
        "lähtömaa", "alkuperämaa", "synnyinmaa", "kotimaa", "country of origin",
        "home country", "birth country", "country of birth", "ursprungsland", "födelseland",
    ),
}  # fmt: skip

_FOLDED = {field: tuple(fold(name) for name in names) for field, names in NAMES.items()}


def _score(field: str, header: str) -> tuple[int, int] | None:
    """(2 whole header, or 1 and the length of the name found inside it) or None."""
    folded = fold(header)
    if not folded:
        return None
    best: tuple[int, int] | None = None
    padded = f" {folded} "
    for name in _FOLDED[field]:
        if folded == name:
            score = (2, 0)  # a whole match: between two such columns the first one wins
        elif f" {name} " in padded:
            score = (1, len(name))
        else:
            continue
        if best is None or score > best:
            best = score
    return best


def guess_mapping(columns: Sequence[str]) -> dict[str, int | None]:
    """Field -> index of the column that seems to hold it (None where nothing fits)."""
    candidates = []
    for field in FIELDS:
        for index, header in enumerate(columns):
            score = _score(field, header)
            if score is not None:
                candidates.append((score, -index, field, index))
    mapping: dict[str, int | None] = dict.fromkeys(FIELDS)
    taken: set[int] = set()
    for _, _, field, index in sorted(candidates, reverse=True):
        if mapping[field] is None and index not in taken:
            mapping[field] = index
            taken.add(index)
    return mapping


def mapping_from_form(
    form: dict[str, str], columns: Sequence[str]
) -> tuple[dict[str, int | None], list[str]]:
    """The mapping posted as `map_<field>` = column index or empty, and the fields whose
    value was not a column of this file."""
    mapping: dict[str, int | None] = dict.fromkeys(FIELDS)
    problems: list[str] = []
    for field in FIELDS:
        value = (form.get(f"map_{field}") or "").strip()
        if value.isdigit() and int(value) < len(columns):
            mapping[field] = int(value)
        elif value:
            problems.append(field)
    return mapping, problems
