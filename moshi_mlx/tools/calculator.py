"""The calculator tool: exact arithmetic on fractions and decimals, and unit conversion.

The expression is parsed with `ast` and evaluated by walking an explicit whitelist of node types
(numbers, + - * / // % **, unary signs, parentheses, a few named functions and constants); nothing
is ever passed to `eval`. Numbers are `Fraction`s, so 0.1 + 0.2 is exactly 0.3; a result stays
exact unless an inexact function (a square root that is not a perfect one, a fractional power)
was used. Huge exponents and numbers are refused before they are computed.

Unit conversion: "<expression> <unit> to|in <unit>", e.g. "3.5 km to miles", "100 F in C".
"""

from __future__ import annotations

import ast
import math
import re
from fractions import Fraction

from .errors import ToolInputError

MAX_BITS = 4096  # numerator or denominator: about 1,230 decimal digits
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 300
MAX_LENGTH = 500  # characters of an expression

F = Fraction
# unit -> (dimension, factor to the dimension's base unit). Exact definitions (NIST).
_INCH, _LB, _GAL = F("0.0254"), F("0.45359237"), F("3.785411784")
_UNITS: dict[str, tuple[str, Fraction]] = {}
_TABLE = {
    "length": {("m", "meter", "meters", "metre", "metres"): F(1),
               ("km", "kilometer", "kilometers", "kilometre", "kilometres"): F(1000),
               ("cm", "centimeter", "centimeters", "centimetre", "centimetres"): F(1, 100),
               ("mm", "millimeter", "millimeters", "millimetre", "millimetres"): F(1, 1000),
               ("in", "inch", "inches"): _INCH, ("ft", "foot", "feet"): 12 * _INCH,
               ("yd", "yard", "yards"): 36 * _INCH, ("mi", "mile", "miles"): 63360 * _INCH,
               ("nmi", "nautical mile", "nautical miles"): F(1852)},
    "mass": {("kg", "kilogram", "kilograms"): F(1), ("g", "gram", "grams"): F(1, 1000),
             ("mg", "milligram", "milligrams"): F(1, 10**6), ("t", "tonne", "tonnes"): F(1000),
             ("lb", "lbs", "pound", "pounds"): _LB, ("oz", "ounce", "ounces"): _LB / 16,
             ("st", "stone", "stones"): 14 * _LB},
    "time": {("s", "sec", "second", "seconds"): F(1), ("ms", "millisecond", "milliseconds"): F(1, 1000),
             ("min", "minute", "minutes"): F(60), ("h", "hr", "hour", "hours"): F(3600),
             ("day", "days"): F(86400), ("week", "weeks"): F(604800),
             ("year", "years"): F(31557600)},  # Julian year, 365.25 days
    "volume": {("l", "liter", "liters", "litre", "litres"): F(1),
               ("ml", "milliliter", "milliliters", "millilitre", "millilitres"): F(1, 1000),
               ("cl", "centiliter", "centiliters", "centilitre", "centilitres"): F(1, 100),
               ("m3", "cubic meter", "cubic meters"): F(1000),
               ("gal", "gallon", "gallons"): _GAL, ("qt", "quart", "quarts"): _GAL / 4,
               ("pt", "pint", "pints"): _GAL / 8, ("cup", "cups"): _GAL / 16,
               ("fl oz", "fluid ounce", "fluid ounces"): _GAL / 128,
               ("tbsp", "tablespoon", "tablespoons"): _GAL / 256,
               ("tsp", "teaspoon", "teaspoons"): _GAL / 768},
    "speed": {("m/s", "meters per second", "metres per second"): F(1),
              ("km/h", "kmh", "kph", "kilometers per hour", "kilometres per hour"): F(1000, 3600),
              ("mph", "mi/h", "miles per hour"): 63360 * _INCH / 3600,
              ("kn", "knot", "knots"): F(1852, 3600), ("ft/s", "feet per second"): 12 * _INCH},
}
for _dim, _rows in _TABLE.items():
    for _names, _factor in _rows.items():
        for _name in _names:
            _UNITS[_name] = (_dim, _factor)
_TEMPERATURE = {"c": "C", "°c": "C", "celsius": "C", "degc": "C", "degrees celsius": "C",
                "f": "F", "°f": "F", "fahrenheit": "F", "degf": "F", "degrees fahrenheit": "F",
                "k": "K", "kelvin": "K", "kelvins": "K"}
_ALL_UNITS = sorted(set(_UNITS) | set(_TEMPERATURE), key=len, reverse=True)
_CONVERSION = re.compile(r"^(?P<left>.+)\s+(?:to|in|into|as)\s+(?P<unit>[^\d()]+?)\s*$", re.IGNORECASE)

_CONSTANTS = {"pi": (F(math.pi), False), "e": (F(math.e), False)}
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


class _Value:
    __slots__ = ("q", "exact")

    def __init__(self, q: Fraction, exact: bool = True):
        if max(q.numerator.bit_length(), q.denominator.bit_length()) > MAX_BITS:
            raise ToolInputError("the number is too large to compute")
        self.q, self.exact = q, exact


def calculate(expression: str) -> str:
    """The result of `expression` as text ("0.3", "1/3 ≈ 0.333333333333", "5.6327 mi"), or
    ToolInputError saying what is wrong with it."""
    text = " ".join(str(expression).split())
    if not text:
        raise ToolInputError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ToolInputError(f"the expression is longer than {MAX_LENGTH} characters")
    m = _CONVERSION.match(text)
    if m and _unit_key(m.group("unit")) is not None:
        left, unit_from = _split_unit(m.group("left"))
        if unit_from is None:
            raise ToolInputError(f"no unit to convert from in {m.group('left')!r}")
        value = _evaluate(left)
        return _convert(value, unit_from, _unit_key(m.group("unit")))
    return format_value(_evaluate(text))


def _unit_key(name: str) -> str | None:
    key = " ".join(name.lower().split())
    if key in _UNITS or key in _TEMPERATURE:
        return key
    if key.startswith("degrees ") and key[8:] in _TEMPERATURE:
        return key[8:]
    return None


def _split_unit(left: str) -> tuple[str, str | None]:
    low = left.lower()
    for name in _ALL_UNITS:
        if low.endswith(name):
            rest = left[: len(left) - len(name)]
            if rest.strip() and (not name[0].isalpha() or not rest[-1].isalpha()):
                rest = rest.rstrip()
                if rest.lower().endswith(" degrees"):
                    rest = rest[:-8]
                return rest, name
    return left, None


def _convert(value: _Value, unit_from: str, unit_to: str) -> str:
    if unit_from in _TEMPERATURE or unit_to in _TEMPERATURE:
        if not (unit_from in _TEMPERATURE and unit_to in _TEMPERATURE):
            raise ToolInputError(f"cannot convert {unit_from} to {unit_to}")
        kelvin = _to_kelvin(value.q, _TEMPERATURE[unit_from])
        q = _from_kelvin(kelvin, _TEMPERATURE[unit_to])
        return f"{format_value(_Value(q, value.exact), False)} °{_TEMPERATURE[unit_to]}".replace("°K", "K")
    dim_from, factor_from = _UNITS[unit_from]
    dim_to, factor_to = _UNITS[unit_to]
    if dim_from != dim_to:
        raise ToolInputError(f"cannot convert {unit_from} ({dim_from}) to {unit_to} ({dim_to})")
    return f"{format_value(_Value(value.q * factor_from / factor_to, value.exact), False)} {unit_to}"


def _to_kelvin(q: Fraction, scale: str) -> Fraction:
    return {"K": q, "C": q + F("273.15"), "F": (q - 32) * F(5, 9) + F("273.15")}[scale]


def _from_kelvin(q: Fraction, scale: str) -> Fraction:
    return {"K": q, "C": q - F("273.15"), "F": (q - F("273.15")) * F(9, 5) + 32}[scale]


def format_value(value: _Value, fraction: bool = True) -> str:
    q = value.q
    if not value.exact:
        return f"≈ {_decimal(q, 12)}"
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:  # a finite decimal: exact
        return _exact_decimal(q)
    return f"{q.numerator}/{q.denominator} ≈ {_decimal(q, 12)}" if fraction else f"≈ {_decimal(q, 12)}"


def _exact_decimal(q: Fraction) -> str:
    digits = 0
    while (q * 10**digits).denominator != 1:
        digits += 1
    n = abs(q.numerator * 10**digits // q.denominator)
    s = str(n).rjust(digits + 1, "0")
    return ("-" if q < 0 else "") + s[:-digits] + "." + s[-digits:]


def _decimal(q: Fraction, significant: int) -> str:
    return format(float(q), f".{significant}g") if abs(q) < F(10) ** 300 else f"{float(q):.{significant}e}"


def _evaluate(text: str) -> _Value:
    try:
        tree = ast.parse(text.replace("^", "**").replace("×", "*").replace("÷", "/"), mode="eval")
    except SyntaxError:
        raise ToolInputError(f"not an arithmetic expression: {text!r}") from None
    return _Eval(text.replace("^", "**").replace("×", "*").replace("÷", "/")).node(tree.body)


class _Eval:
    def __init__(self, source: str):
        self.source = source

    def node(self, node: ast.AST) -> _Value:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            literal = ast.get_source_segment(self.source, node) or repr(node.value)
            return _Value(F(literal.replace("_", "")))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = self.node(node.operand)
            return _Value(-v.q if isinstance(node.op, ast.USub) else v.q, v.exact)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY):
            return self.binary(node.op, self.node(node.left), self.node(node.right))
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _Value(*_CONSTANTS[node.id])
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return self.call(node.func.id, [self.node(a) for a in node.args])
        what = node.id if isinstance(node, ast.Name) else type(node).__name__
        raise ToolInputError(f"not allowed in a calculation: {what}")

    def binary(self, op: ast.operator, a: _Value, b: _Value) -> _Value:
        exact = a.exact and b.exact
        if isinstance(op, (ast.Div, ast.FloorDiv, ast.Mod)) and b.q == 0:
            raise ToolInputError("division by zero")
        if isinstance(op, ast.Add):
            return _Value(a.q + b.q, exact)
        if isinstance(op, ast.Sub):
            return _Value(a.q - b.q, exact)
        if isinstance(op, ast.Mult):
            return _Value(a.q * b.q, exact)
        if isinstance(op, ast.Div):
            return _Value(a.q / b.q, exact)
        if isinstance(op, ast.FloorDiv):
            return _Value(F(a.q // b.q), exact)
        if isinstance(op, ast.Mod):
            return _Value(a.q % b.q, exact)
        return self.power(a, b)

    def power(self, a: _Value, b: _Value) -> _Value:
        if b.q.denominator == 1 and b.exact:
            n = b.q.numerator
            bits = max(a.q.numerator.bit_length(), a.q.denominator.bit_length())
            if abs(n) > MAX_EXPONENT or (bits > 1 and bits * abs(n) > MAX_BITS):
                raise ToolInputError(f"the exponent {n} is too large")
            if a.q == 0 and n < 0:
                raise ToolInputError("division by zero")
            return _Value(a.q**n, a.exact)
        if a.q < 0:
            raise ToolInputError("a negative number to a fractional power is not a real number")
        if abs(b.q) > MAX_EXPONENT:
            raise ToolInputError("the exponent is too large")
        try:
            return _Value(F(float(a.q) ** float(b.q)), False)
        except (OverflowError, ValueError):
            raise ToolInputError("the result is too large") from None

    def call(self, name: str, args: list[_Value]) -> _Value:
        def one() -> _Value:
            if len(args) != 1:
                raise ToolInputError(f"{name}() takes one number")
            return args[0]

        if name == "sqrt":
            v = one()
            if v.q < 0:
                raise ToolInputError("the square root of a negative number is not a real number")
            n, d = math.isqrt(v.q.numerator), math.isqrt(v.q.denominator)
            if v.exact and n * n == v.q.numerator and d * d == v.q.denominator:
                return _Value(F(n, d))
            return _Value(F(math.sqrt(v.q)), False)
        if name == "abs":
            v = one()
            return _Value(abs(v.q), v.exact)
        if name in ("floor", "ceil"):
            v = one()
            return _Value(F(math.floor(v.q) if name == "floor" else math.ceil(v.q)), v.exact)
        if name == "round":
            if len(args) not in (1, 2) or (len(args) == 2 and args[1].q.denominator != 1):
                raise ToolInputError("round() takes a number and whole number of digits")
            digits = int(args[1].q) if len(args) == 2 else 0
            if abs(digits) > 100:
                raise ToolInputError("round(): too many digits")
            return _Value(F(round(args[0].q, digits)), args[0].exact)
        if name in ("min", "max") and args:
            pick = min if name == "min" else max
            return pick(args, key=lambda v: v.q)
        if name == "factorial":
            v = one()
            if v.q.denominator != 1 or not 0 <= v.q <= MAX_FACTORIAL:
                raise ToolInputError(f"factorial() takes a whole number from 0 to {MAX_FACTORIAL}")
            return _Value(F(math.factorial(int(v.q))), v.exact)
        raise ToolInputError(f"not allowed in a calculation: {name}()")
