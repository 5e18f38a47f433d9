"""Word lists the generator draws from: regions, streets, services, fuels, currencies."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Region:
    """A city where generated stations are placed, and how its addresses and prices look."""

    city: str
    lat: float
    lon: float
    spread: float  # degrees around the centre
    streets: tuple[str, ...]
    address_format: str  # str.format fields: street, house, city, postcode
    postcode: tuple[int, int]
    currency: str
    weight: int


_RU_STREETS = (
    "ул. Ленина",
    "ул. Пушкина",
    "пр-т Мира",
    "ул. Гагарина",
    "Садовая ул.",
    "ул. Советская",
    "ш. Энтузиастов",
    "ул. Баумана",
    "Лесная ул.",
    "пр-т Победы",
    "ул. Кирова",
    "Московское ш.",
)
_RU = "{street}, {house}, {city}, Россия, {postcode}"

REGIONS: tuple[Region, ...] = (
    Region("Москва", 55.7558, 37.6173, 0.25, _RU_STREETS, _RU, (101000, 129999), "RUB", 30),
    Region("Санкт-Петербург", 59.9343, 30.3351, 0.2, _RU_STREETS, _RU, (190000, 199999), "RUB", 15),
    Region("Казань", 55.7963, 49.1088, 0.12, _RU_STREETS, _RU, (420000, 420140), "RUB", 10),
    Region("Екатеринбург", 56.8389, 60.6057, 0.12, _RU_STREETS, _RU, (620000, 620150), "RUB", 7),
    Region("Новосибирск", 55.0084, 82.9357, 0.15, _RU_STREETS, _RU, (630000, 630130), "RUB", 7),
    # Far-East longitudes exceed 90, so swapped coordinates there are detectably out of range.
    Region("Владивосток", 43.1155, 131.8855, 0.08, _RU_STREETS, _RU, (690000, 690110), "RUB", 4),
    Region("Хабаровск", 48.4802, 135.0719, 0.08, _RU_STREETS, _RU, (680000, 680050), "RUB", 3),
    Region(
        "Београд",
        44.8125,
        20.4612,
        0.1,
        ("Булевар краља Александра", "Кнез Михаилова", "Војводе Степе", "Устаничка", "Гандијева"),
        "{street} {house}, {postcode} {city}",
        (11000, 11273),
        "RSD",
        8,
    ),
    Region(
        "Novi Sad",
        45.2671,
        19.8335,
        0.06,
        ("Bulevar oslobođenja", "Futoški put", "Temerinska", "Šafarikova", "Kisačka"),
        "{street} {house}, {postcode} {city}, Srbija",
        (21000, 21000),
        "RSD",
        4,
    ),
    Region(
        "Niš",
        43.3209,
        21.8958,
        0.05,
        ("Bulevar Nemanjića", "Vizantijski bulevar", "Čegarska", "Ђуке Динић"),
        "{street} {house}, {city}",
        (18000, 18000),
        "RSD",
        2,
    ),
    Region(
        "Podgorica",
        42.4304,
        19.2594,
        0.05,
        ("Bulevar Svetog Petra Cetinjskog", "Cetinjski put", "Bratstva i jedinstva"),
        "{street} {house}, {city}, Crna Gora",
        (81000, 81000),
        "EUR",
        2,
    ),
    Region(
        "Алматы",
        43.2389,
        76.8897,
        0.1,
        ("пр. Абая", "ул. Толе би", "пр. Райымбека", "ул. Сатпаева"),
        "{street} {house}, {city}, Казахстан, {postcode}",
        (50000, 50063),
        "KZT",
        2,
    ),
)

SERVICES: tuple[str, ...] = (
    "Мойка",
    "Замена шин",
    "Замена масла",
    "Гаечный ключ",
    "Подкачка колес",
    "Пылесос",
    "Кафе",
    "Магазин",
    "Туалет",
    "Банкомат",
    "Wi-Fi",
    "Зарядка электромобилей",
    "Шиномонтаж",
    "Подкачка шин",
)

FUELS: tuple[str, ...] = ("АИ-92", "АИ-95", "АИ-98", "АИ-95+", "ДТ", "Газ")

# Spellings seen in the wild for the same fuel: Latin look-alikes, case, spacing.
FUEL_LOOKALIKES: dict[str, tuple[str, ...]] = {
    "АИ-92": ("AI-92", "аи-92", "АИ 92", "AИ-92"),
    "АИ-95": ("AI-95", "аи-95 ", "АИ 95", " АИ-95"),
    "АИ-98": ("AI-98", "Аи-98", "АИ98"),
    "АИ-95+": ("AI-95+", "АИ-95 +", "аи-95+"),
    "ДТ": ("дт", "ДТ ", "DT"),
    "Газ": ("ГАЗ", "газ", "Газ "),
}

# Typical price per litre in roubles; other currencies scale it.
BASE_PRICE_RUB: dict[str, Decimal] = {
    "АИ-92": Decimal("52.40"),
    "АИ-95": Decimal("57.30"),
    "АИ-98": Decimal("72.10"),
    "АИ-95+": Decimal("60.20"),
    "ДТ": Decimal("66.80"),
    "Газ": Decimal("28.90"),
}

CURRENCY_FACTOR: dict[str, Decimal] = {
    "RUB": Decimal(1),
    "RSD": Decimal("3.35"),
    "EUR": Decimal("0.0285"),
    "USD": Decimal("0.0125"),
    "KZT": Decimal("5.1"),
}

# Decimal places each currency is quoted with (at most 2 everywhere).
CURRENCY_PLACES: dict[str, int] = {"RUB": 2, "RSD": 1, "EUR": 2, "USD": 2, "KZT": 0}
