"""Reference data shipped with intake: integrity of the CSV files and behaviour of the loaders."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import time
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from services.intake import reference as ref

REPO = Path(__file__).resolve().parents[2]
SHARED_ISCO = REPO.parent / "shared" / "data" / "isco08_en.csv"


# --- ISCO-08 ---------------------------------------------------------------------------------


def test_isco_has_all_groups_per_level() -> None:
    groups = ref.isco_groups()
    assert len(groups) == 619
    assert Counter(g.level for g in groups.values()) == {1: 10, 2: 43, 3: 130, 4: 436}
    for code, group in groups.items():
        assert re.fullmatch(r"\d{1,4}", code)
        assert group.level == len(code)


def test_isco_every_parent_exists() -> None:
    groups = ref.isco_groups()
    for code, group in groups.items():
        if group.level == 1:
            assert group.parent is None
        else:
            assert group.parent in groups, code
            assert groups[group.parent].level == group.level - 1


def test_isco_finnish_labels_are_translations() -> None:
    groups = list(ref.isco_groups().values())
    assert all(g.label_fi.strip() and g.label_en.strip() for g in groups)
    translated = sum(g.label_fi != g.label_en for g in groups)
    assert translated >= 0.95 * len(groups)
    # no leftovers of English, no placeholders
    for g in groups:
        assert "TODO" not in g.label_fi and "not elsewhere classified" not in g.label_fi
        assert " and " not in g.label_fi, g.code
    assert ref.isco_label("2512", "fi") == "Ohjelmistokehittäjät"
    assert ref.isco_label("251", "fi") == "Ohjelmistojen ja sovellusten kehittäjät ja analyytikot"
    assert ref.isco_label("2149", "fi").startswith("Muualla luokittelemattomat")


@pytest.mark.skipif(not SHARED_ISCO.exists(), reason="shared/data not beside the repository")
def test_isco_english_copied_exactly_from_shared_data() -> None:
    with SHARED_ISCO.open(encoding="utf-8") as f:
        source = [(r["code"], int(r["level"]), r["label_en"]) for r in csv.DictReader(f)]
    shipped = [(g.code, g.level, g.label_en) for g in ref.isco_groups().values()]
    assert shipped == source


def test_isco_hierarchy_helpers() -> None:
    assert ref.isco_parent("2221") == "222"
    assert ref.isco_parent("2") is None
    assert ref.isco_ancestors("2221") == ["222", "22", "2"]
    assert ref.isco_ancestors("0") == []
    assert ref.isco_children("222") == ["2221", "2222"]
    assert len(ref.isco_children()) == 10
    assert ref.is_isco_unit("2221")
    assert not ref.is_isco_unit("222")
    assert not ref.is_isco_unit("9999")
    with pytest.raises(KeyError):
        ref.isco_parent("9999")
    assert ref.isco_group("9999") is None


def test_isco_label_languages_and_fallback() -> None:
    group = ref.isco_groups()["2221"]
    assert group.label("en") == "Nursing professionals"
    assert group.label("fi") == group.label_fi != group.label_en
    assert group.label("sv") == group.label_en  # no Swedish labels: English
    assert ref.isco_label("2221", "fi-FI") == group.label_fi
    with pytest.raises(ValueError):
        group.label("de")


# --- occupations ------------------------------------------------------------------------------


def test_esco_occupations_point_to_unit_groups() -> None:
    occupations = ref.esco_occupations()
    assert len(occupations) == 2942
    for occ in occupations:
        assert ref.is_isco_unit(occ.isco_code), occ
        assert occ.name_en
    data_analyst = next(o for o in occupations if o.name_en == "data analyst")
    assert data_analyst.isco_code == "2511"
    assert "data warehouse analyst" in data_analyst.alt_labels_en


def test_finnish_terms_point_to_unit_groups() -> None:
    terms = ref.occupation_terms_fi()
    assert len(terms) >= 250
    assert len(set(terms)) == len(terms)
    for code, term in terms:
        assert ref.is_isco_unit(code), (code, term)
        assert term.strip() == term and term
    mapping: dict[str, set[str]] = {}
    for code, term in terms:
        mapping.setdefault(term, set()).add(code)
    assert mapping["sairaanhoitaja"] == {"2221"}
    assert mapping["ohjelmistokehittäjä"] == {"2512"}
    assert mapping["lääkäri"] == {"2211", "2212"}
    assert mapping["kirjanpitäjä"] >= {"3313"}
    assert mapping["arkkitehti"] == {"2161"}
    assert mapping["juristi"] == {"2611"}
    assert mapping["farmaseutti"] == {"2262"}
    assert mapping["ekonomisti"] == {"2631"}
    assert mapping["kemisti"] == {"2113"}
    assert any(t.endswith("opettaja") for t in mapping)
    assert sum(1 for t in mapping if "insinööri" in t) >= 10


def codes(hits: list[ref.OccupationHit]) -> list[str]:
    return [h.isco_code for h in hits]


def test_search_nurse_finds_nursing_professionals() -> None:
    hits = ref.search_occupations("nurse", "en")
    assert "2221" in codes(hits)[:3]
    assert codes(ref.search_occupations("NURSE", "en")) == codes(hits)
    assert ref.search_occupations("sairaanhoitaja", "fi")[0].isco_code == "2221"


def test_search_hits_carry_labels() -> None:
    hit = ref.search_occupations("sairaanhoitaja", "fi")[0]
    assert hit.matched_label == "sairaanhoitaja"
    assert hit.matched_lang == "fi"
    assert hit.match == "exact"
    assert hit.isco_label == ref.isco_label("2221", "fi")
    hit_en = ref.search_occupations("sairaanhoitaja", "en")[0]
    assert hit_en.isco_label == "Nursing professionals"
    hit_sv = ref.search_occupations("data analyst", "sv")[0]
    assert (hit_sv.isco_code, hit_sv.match, hit_sv.isco_label) == (
        "2511",
        "exact",
        "Systems analysts",
    )


def test_search_data_analyst() -> None:
    assert ref.search_occupations("data analyst", "en")[0].isco_code == "2511"
    assert ref.search_occupations("Data-Analyst", "en")[0].isco_code == "2511"


def test_search_engineers_with_and_without_umlauts() -> None:
    with_umlauts = codes(ref.search_occupations("insinööri", "fi"))
    without = codes(ref.search_occupations("insinoori", "fi"))
    assert with_umlauts == without
    assert sum(c.startswith("214") for c in without[:6]) >= 4
    assert (
        codes(ref.search_occupations("laakari", "fi"))[:2]
        == codes(ref.search_occupations("lääkäri", "fi"))[:2]
    )
    assert set(codes(ref.search_occupations("lääkäri", "fi"))[:2]) == {"2211", "2212"}


def test_search_umlauts_stay_meaningful() -> None:
    # a query with ä/ö only matches words that have them: "hoitaja" ≠ "höitaja"
    assert ref.search_occupations("höitaja", "fi") == []


def test_search_ranking_exact_then_prefix_then_word_then_substring() -> None:
    hits = ref.search_occupations("arkkitehti", "fi")
    assert codes(hits)[0] == "2161"  # exact Finnish term
    kinds = [h.match for h in hits]
    order = ["exact", "prefix", "word_prefix", "substring", "words"]
    assert kinds == sorted(kinds, key=order.index)
    assert "substring" in kinds  # sisustusarkkitehti, ohjelmistoarkkitehti


def test_search_unit_groups_are_unique_and_limited() -> None:
    hits = ref.search_occupations("teacher", "en", limit=10)
    assert len(hits) == 10
    assert len(set(codes(hits))) == len(hits)
    assert all(ref.is_isco_unit(c) for c in codes(hits))
    assert ref.search_occupations("teacher", "en", limit=0) == []


def test_search_empty_and_nonsense() -> None:
    assert ref.search_occupations("", "fi") == []
    assert ref.search_occupations("   ", "fi") == []
    assert ref.search_occupations("-- !", "fi") == []
    assert ref.search_occupations("zzzqqqxxx", "fi") == []


def test_search_several_words_in_any_order() -> None:
    hits = ref.search_occupations("developer software", "en")
    assert "2512" in codes(hits)[:3]
    assert {h.match for h in hits} == {"words"}


def test_search_is_fast_once_indexed() -> None:
    ref.search_occupations("warm", "fi")
    queries = ["nurse", "sairaanhoitaja", "data analyst", "insinööri", "insinoori", "opettaja"]
    start = time.perf_counter()
    for _ in range(5):
        for q in queries:
            ref.search_occupations(q, "fi")
    per_query = (time.perf_counter() - start) / (5 * len(queries))
    assert per_query < 0.05


# --- regions and municipalities ------------------------------------------------------------


def test_regions() -> None:
    pairs = ref.regions("fi")
    assert {code for code, _ in pairs} == {
        *(f"{n:02d}" for n in range(1, 20) if n != 3),
        "21",
    }
    assert len(pairs) == 19
    uusimaa = ref.region("01")
    assert uusimaa is not None
    assert (uusimaa.name("fi"), uusimaa.name("sv"), uusimaa.name("en")) == (
        "Uusimaa",
        "Nyland",
        "Uusimaa",
    )
    assert dict(ref.regions("sv"))["21"] == "Åland"
    assert dict(ref.regions("fi"))["21"] == "Ahvenanmaa"
    assert ref.is_region("12") and not ref.is_region("03") and not ref.is_region("1")


def test_municipalities_integrity() -> None:
    pairs = ref.municipalities()
    assert len(pairs) >= 300
    all_codes = [code for code, _ in pairs]
    assert len(all_codes) == len(set(all_codes))
    assert all(re.fullmatch(r"\d{3}", c) for c in all_codes)
    region_codes = {code for code, _ in ref.regions()}
    per_region = Counter()
    for code in all_codes:
        m = ref.municipality(code)
        assert m is not None and m.region_code in region_codes
        assert m.name_fi and m.name_sv
        per_region[m.region_code] += 1
    assert set(per_region) == region_codes
    assert per_region["21"] == 16
    assert sum(per_region.values()) == len(pairs)


def test_municipality_names_and_regions() -> None:
    helsinki = ref.municipality("091")
    assert helsinki is not None
    assert (helsinki.name_fi, helsinki.name_sv, helsinki.region_code) == (
        "Helsinki",
        "Helsingfors",
        "01",
    )
    sv = dict(ref.municipalities(lang="sv"))
    assert sv["049"] == "Esbo" and sv["092"] == "Vanda" and sv["853"] == "Åbo"
    assert sv["837"] == "Tammerfors" and sv["564"] == "Uleåborg" and sv["905"] == "Vasa"
    assert sv["179"] == "Jyväskylä"  # no Swedish name: the Finnish one
    en = dict(ref.municipalities(lang="en"))
    assert en["091"] == "Helsinki" and en["478"] == "Mariehamn"
    uusimaa = dict(ref.municipalities("01"))
    assert "091" in uusimaa and "853" not in uusimaa
    assert ref.municipalities("99") == []
    assert ref.is_municipality("091") and not ref.is_municipality("91")


def test_finnish_sort_order() -> None:
    names = [name for _, name in ref.municipalities(lang="fi")]
    assert names.index("Ylöjärvi") < names.index("Ypäjä") < names.index("Ähtäri")
    assert names[-2:] == ["Ähtäri", "Äänekoski"]
    assert names.index("Ähtäri") > names.index("Vöyri")
    sv_regions = [name for _, name in ref.regions("sv")]
    assert sv_regions[-2:] == ["Åland", "Österbotten"]
    assert ref.sort_key("Åland", "fi") > ref.sort_key("Zimbabwe", "fi")
    assert ref.sort_key("Åbo", "fi") < ref.sort_key("Äetsä", "fi") < ref.sort_key("Öja", "fi")
    assert ref.sort_key("Åland Islands", "en") < ref.sort_key("Albania", "en")
    assert ref.sort_key("éclair", "fi") < ref.sort_key("f", "fi")


def test_lists_are_sorted_by_label() -> None:
    for lang in ref.SUPPORTED_LANGUAGES:
        for pairs in (ref.regions(lang), ref.municipalities(lang=lang), ref.countries(lang)):
            labels = [label for _, label in pairs]
            assert labels == sorted(labels, key=lambda s: ref.sort_key(s, lang))
        labels = [label for _, label in ref.languages(lang)]
        assert labels == sorted(labels, key=lambda s: ref.sort_key(s, lang))


def test_returned_lists_are_copies() -> None:
    first = ref.countries("fi")
    first.clear()
    assert ref.countries("fi")


# --- countries and languages -----------------------------------------------------------------


def test_countries() -> None:
    pairs = ref.countries("fi")
    assert len(pairs) >= 240
    all_codes = [code for code, _ in pairs]
    assert len(all_codes) == len(set(all_codes))
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in all_codes)
    fi = dict(pairs)
    en = dict(ref.countries("en"))
    assert fi["FI"] == "Suomi" and en["FI"] == "Finland"
    assert fi["SE"] == "Ruotsi" and fi["SO"] == "Somalia" and fi["SY"] == "Syyria"
    assert fi["DE"] == "Saksa" and en["DE"] == "Germany"
    assert dict(ref.countries("sv")) == en  # no Swedish country names: English
    assert all(fi[c] for c in fi) and all(en[c] for c in en)
    assert ref.is_country("UA") and not ref.is_country("ua") and not ref.is_country("ZZ")


def test_languages() -> None:
    pairs = ref.languages("fi")
    all_codes = {code for code, _ in pairs}
    assert len(all_codes) == len(pairs) >= 80
    assert all(re.fullmatch(r"[a-z]{2,3}", c) for c in all_codes)
    required = {"fi", "sv", "en", "ar", "so", "fa", "prs", "ku", "ti", "ru", "uk", "et", "vi"}
    required |= {"th", "tl", "zh", "sq", "tr", "sw", "am", "ne", "bn", "ur", "hi", "ta", "ps"}
    assert required <= all_codes
    fi = dict(pairs)
    en = dict(ref.languages("en"))
    assert fi["fi"] == "Suomi" and en["fi"] == "Finnish"
    assert fi["so"] == "Somali" and en["prs"] == "Dari" and fi["ru"] == "Venäjä"
    assert ref.is_language("so") and not ref.is_language("xx") and not ref.is_language("SO")


# --- ISCED -----------------------------------------------------------------------------------


def test_isced_levels() -> None:
    levels = ref.isced_levels("fi")
    assert [code for code, _ in levels] == [str(n) for n in range(9)]
    assert all(label for _, label in levels)
    assert dict(ref.isced_levels("en"))["6"] == "Bachelor's or equivalent level"
    assert dict(ref.isced_levels("fi"))["8"] == "Tohtoritaso tai vastaava"
    assert ref.isced_levels("sv") == ref.isced_levels("en")
    assert ref.is_isced_level("7") and not ref.is_isced_level("9")


def test_isced_fields() -> None:
    fields = ref.isced_fields("en")
    all_codes = [code for code, _ in fields]
    assert len(all_codes) == len(set(all_codes))
    broad = [c for c in all_codes if len(c) == 2]
    narrow = [c for c in all_codes if len(c) == 3]
    assert broad == [f"{n:02d}" for n in range(11)] + ["99"]
    assert len(narrow) == 29
    assert all(c[:2] in broad for c in narrow)
    fi = dict(ref.isced_fields("fi"))
    assert all(fi.values()) and fi["061"] != dict(fields)["061"]
    assert ref.is_isced_field("061") and ref.is_isced_field("06") and not ref.is_isced_field("6")


# --- loading ---------------------------------------------------------------------------------


def test_language_normalisation() -> None:
    assert ref.normalize_lang("FI") == "fi"
    assert ref.normalize_lang("sv_FI") == "sv"
    assert ref.normalize_lang("en-GB") == "en"
    with pytest.raises(ValueError):
        ref.normalize_lang("de")
    with pytest.raises(ValueError):
        ref.countries("xx")


def test_data_files_are_package_resources() -> None:
    data = resources.files("services.intake.reference.data")
    names = {p.name for p in data.iterdir()}
    assert {
        "isco08.csv",
        "esco_occupations.csv",
        "occupation_terms_fi.csv",
        "regions.csv",
        "municipalities.csv",
        "countries.csv",
        "languages.csv",
        "isced.csv",
        "isced_fields.csv",
        "__init__.py",
        "README.md",
    } <= names


def test_nothing_is_loaded_at_import() -> None:
    code = (
        "import services.intake.reference as r\n"
        "fns = [r.isco_groups, r.esco_occupations, r.occupation_terms_fi, r._occupation_index,"
        " r._regions, r._municipalities, r._countries, r._languages, r._isced]\n"
        "assert all(f.cache_info().currsize == 0 for f in fns)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
