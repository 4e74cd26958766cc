import pytest

from prodmatch.data.titles import clean_title, decode_escaped_bytes, normalize_units


def test_decodes_literal_escaped_utf8():
    assert clean_title(r"Nescafe \xc3\x89clair") == "nescafe éclair"
    assert decode_escaped_bytes(r"\xe2\x80\x9cH-108\xe2\x80\x9d") == "\u201cH-108\u201d"


def test_invalid_utf8_escape_falls_back_to_latin1_without_losing_text():
    assert decode_escaped_bytes(r"caf\xe9 ok") == "café ok"


def test_html_entities_and_nfkc_and_case():
    assert clean_title("Tom &amp; Jerry &#39;ORI&#39;") == "tom & jerry 'ori'"
    assert clean_title("ＳＡＭＳＵＮＧ Ｇａｌａｘｙ") == "samsung galaxy"


@pytest.mark.parametrize(
    "spaced, glued",
    [("Aqua 100 ml", "Aqua 100ml"), ("beras 5 KG", "beras 5kg"), ("tape 4,5 m", "tape 4.5m"), ("1.5 L", "1.5l")],
)
def test_unit_spacing_is_normalised(spaced, glued):
    assert clean_title(spaced) == clean_title(glued)


def test_units_do_not_glue_inside_words_or_ids():
    assert normalize_units("seri 2 merah") == "seri 2 merah"  # 'merah' is not a unit
    assert normalize_units("model A1 m") == "model A1 m"  # not a number before the unit


def test_whitespace_and_missing():
    assert clean_title("  a \t b\n") == "a b"
    assert clean_title(None) == ""
    assert clean_title(float("nan")) == ""
