import pytest
from fuelhub_common.normalize import FuelNameNormalizer, fuel_key, unique_service_names


@pytest.mark.parametrize(
    "spelling",
    ["АИ-95", "аи-95 ", "АИ 95", "AИ-95", "AI-95", "ai 95", "АИ—95", "АИ95", "  АИ - 95"],
)
def test_spellings_of_one_fuel_meet(spelling: str) -> None:
    assert FuelNameNormalizer()(spelling) == "АИ-95"


def test_plus_grade_stays_distinct() -> None:
    normalize = FuelNameNormalizer()
    assert normalize("АИ-95+") == "АИ-95+"
    assert normalize("аи 95 +") == "АИ-95+"
    assert normalize("АИ-95+") != normalize("АИ-95")


def test_admin_aliases_extend_the_map() -> None:
    normalize = FuelNameNormalizer().with_aliases({"Premium 95": "АИ-95+"})
    assert normalize("PREMIUM 95") == "АИ-95+"


def test_latin_only_names_are_not_cyrillised() -> None:
    assert fuel_key("Diesel Extra") == "DIESEL EXTRA"


def test_services_trimmed_and_deduplicated() -> None:
    assert unique_service_names(["  Мойка ", "мойка", "Замена  шин", "", "Пылесос"]) == (
        "Мойка",
        "Замена шин",
        "Пылесос",
    )
