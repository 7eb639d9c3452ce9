"""Kubernetes quantities (`500m`, `16Gi`, `1e3`): one exact implementation of apimachinery's grammar.

Source: k8s.io/apimachinery `pkg/api/resource/quantity.go` at v0.36.3 (the `Quantity` doc comment,
`parseQuantityString` and `ParseQuantity`) and `pkg/api/resource/suffix.go` (`newSuffixer`,
`interpret`):

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <signedNumber>    ::= <number> | <sign><number>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E      (suffix.go adds n and u)
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

`parseQuantityString` reads only an optionally signed run of digits after `e`/`E` (`1e1.5` is
ErrFormatWrong), so the exponent here is an integer. "No quantity may represent a number greater
than 2^63-1 in magnitude" (quantity.go); the parser silently caps or wraps larger ones (a BinarySI
value is capped, an exponent is cast to int32), so they are refused here rather than changed.

Values are exact `Fraction`s, never floats: a comparison of two quantities is exact, and a huge
number is an error message, not an OverflowError. The API server's JSON decoding trims whitespace;
a config value with whitespace or a newline is refused anyway (it is a typo, or a YAML block scalar).
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
QUANTITY = re.compile(rf"(?P<sign>[+-]?)(?P<number>{NUMBER})(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")

DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
MAX_QUANTITY = 2**63 - 1
# The finest a quantity holds: the parser rounds anything finer up to 1n (inf.RoundUp at Nano scale).
NANO = Fraction(1, 10**9)
# Exponents beyond this cannot give a value inside (1n, 2^63-1) from a mantissa the API accepts.
MAX_EXPONENT = 40
# Longer text is never a sensible quantity (and int() refuses over 4300 digits anyway).
MAX_TEXT = 64
EXAMPLES = "e.g. 500m, 4, 16Gi, 1e3"


class QuantityError(ValueError):
    pass


def parse_quantity(value: object) -> Fraction:
    """The exact value of a quantity written in a config file; QuantityError saying why not.

    Accepted input types: a string in the grammar above, a YAML integer, or a finite YAML float
    (read back as Python writes it, `0.5` -> "0.5", which is the text the manifests carry). A YAML
    boolean is never a number (`true` is not 1), and `.inf`/`.nan` are not quantities.
    """
    if isinstance(value, bool) or value is None:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity ({EXAMPLES}); YAML read a {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"{value!r} is not a Kubernetes quantity ({EXAMPLES})")
        text = repr(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise QuantityError(f"expected a Kubernetes quantity ({EXAMPLES}), got a {type(value).__name__}")
    match = QUANTITY.fullmatch(text) if len(text) <= MAX_TEXT else None
    if not match:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity ({EXAMPLES})")
    sign, number, suffix = match["sign"], match["number"], match["suffix"] or ""
    whole, _, fraction = number.partition(".")
    mantissa = Fraction(int(whole or "0") * 10 ** len(fraction) + int(fraction or "0"), 10 ** len(fraction))
    if suffix in BINARY_SI:
        result = mantissa * 2 ** BINARY_SI[suffix]
    else:
        exponent = DECIMAL_SI[suffix] if suffix in DECIMAL_SI else int(suffix[1:])
        if mantissa and abs(exponent) > MAX_EXPONENT:
            raise QuantityError(f"{text!r} is out of range (at most {MAX_QUANTITY}, at least 1n)")
        result = mantissa * Fraction(10) ** exponent
    if result > MAX_QUANTITY:
        raise QuantityError(f"{text!r} is larger than any Kubernetes quantity (2^63-1 = {MAX_QUANTITY}); the API server would cap it")
    # Round up to the nano scale, as the API server does.
    result = Fraction(math.ceil(result / NANO)) * NANO
    return -result if sign == "-" else result



def non_negative_quantity(value: object) -> str:
    if parse_quantity(value) < 0:
        raise QuantityError(f"{value!r}: a request, limit or size cannot be negative")
    return str(value)


def positive_quantity(value: object) -> str:
    if parse_quantity(value) <= 0:
        raise QuantityError(f"{value!r}: a size must be greater than zero")
    return str(value)


def count_quantity(value: object) -> str:
    """A whole number of things (GPUs, pods, objects): non-negative and integral, whatever the suffix."""
    parsed = parse_quantity(value)
    if parsed < 0:
        raise QuantityError(f"{value!r}: a count cannot be negative")
    if parsed.denominator != 1:
        raise QuantityError(f"{value!r} is not a whole number")
    return str(value)

