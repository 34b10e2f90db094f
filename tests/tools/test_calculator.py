"""The calculator: exact results, units, refusals, and no eval."""

import pytest

from moshi_mlx.tools.calculator import calculate
from moshi_mlx.tools.errors import ToolInputError

EXACT = [
    ("2+2", "4"),
    ("0.1 + 0.2", "0.3"),
    ("1/3", "1/3 ≈ 0.333333333333"),
    ("1/3 + 1/6", "0.5"),
    ("2**100", "1267650600228229401496703205376"),
    ("2^10", "1024"),
    ("-3 * (4 - 7)", "9"),
    ("7 // 2", "3"),
    ("7 % 3", "1"),
    ("1.5e3 / 4", "375"),
    ("3 × 4 ÷ 6", "2"),
    ("sqrt(16/9)", "4/3 ≈ 1.33333333333"),
    ("sqrt(2)", "≈ 1.41421356237"),
    ("round(2.675, 2)", "2.68"),  # exact decimal: no binary rounding surprise
    ("factorial(20)", "2432902008176640000"),
    ("max(1, 2.5, -3)", "2.5"),
    ("abs(-0.25) + floor(2.7) + ceil(0.1)", "3.25"),
    ("2 ** -2", "0.25"),
    ("1_000 * 3", "3000"),
]

UNITS = [
    ("5 km to miles", "≈ 3.10685596119 miles"),
    ("1 mile in km", "1.609344 km"),
    ("100 F in C", "≈ 37.7777777778 °C"),
    ("100 °F to celsius", "≈ 37.7777777778 °C"),
    ("37 C to F", "98.6 °F"),
    ("0 C to K", "273.15 K"),
    ("-40 F to C", "-40 °C"),
    ("2 lb to kg", "0.90718474 kg"),
    ("500 g to oz", "≈ 17.6369809748 oz"),
    ("1.5 hours to minutes", "90 minutes"),
    ("90 min in h", "1.5 h"),
    ("1 gallon to liters", "3.785411784 liters"),
    ("2 cups in ml", "473.176473 ml"),
    ("100 km/h to mph", "≈ 62.1371192237 mph"),
    ("10 m/s in km/h", "36 km/h"),
    ("12 in to cm", "30.48 cm"),
    ("6 ft to m", "1.8288 m"),
    ("(2 + 3) km to m", "5000 m"),
]


@pytest.mark.parametrize("expression,expected", EXACT)
def test_exact_arithmetic(expression, expected):
    assert calculate(expression) == expected


@pytest.mark.parametrize("expression,expected", UNITS)
def test_unit_conversion(expression, expected):
    assert calculate(expression) == expected


@pytest.mark.parametrize("expression,message", [
    ("2 ** 100000", "too large"),
    ("10 ** 10 ** 10", "too large"),
    ("9 ** 9 ** 9", "too large"),
    ("factorial(100000)", "factorial"),
    ("1 / 0", "division by zero"),
    ("(-8) ** 0.5", "not a real number"),
    ("__import__('os').system('echo hacked')", "not allowed"),
    ("open('/etc/passwd')", "not allowed"),
    ("().__class__", "not allowed"),
    ("[1, 2]", "not allowed"),
    ("x + 1", "not allowed in a calculation: x"),
    ("lambda: 1", "not allowed"),
    ("'a' * 3", "not allowed"),
    ("2 if 1 else 3", "not allowed"),
    ("1 +", "not an arithmetic expression"),
    ("5 km to kg", "cannot convert"),
    ("5 C to km", "cannot convert"),
    ("", "empty"),
    ("1+" * 400 + "1", "longer than"),
])
def test_refusals(expression, message):
    with pytest.raises(ToolInputError, match=message):
        calculate(expression)


def test_never_calls_eval(monkeypatch):
    import builtins

    def no(*a, **k):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", no)
    monkeypatch.setattr(builtins, "exec", no)
    assert calculate("2 * (3 + 4)") == "14"
    assert calculate("3 km to m") == "3000 m"
