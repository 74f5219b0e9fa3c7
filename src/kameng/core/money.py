"""Money: integer fen in the database, an immutable `Money` in code, decimal strings in the API.

Never a float: amounts are parsed from strings and kept as whole fen.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
# What an amount column (a 64-bit integer of fen) can hold: anything beyond is no amount at all, refused
# here rather than by the database (or by Decimal's own limits) as a server error.
MAX_FEN = 2**63 - 1


class InvalidAmount(ValueError):
    pass


@dataclass(frozen=True, order=True, slots=True)
class Money:
    fen: int

    @classmethod
    def parse(cls, value: "str | int | Decimal | Money") -> "Money":
        """Parse yuan given as a decimal string ("100.00"); at most two decimal places."""
        if isinstance(value, Money):
            return value
        if isinstance(value, float) or isinstance(value, bool):
            raise InvalidAmount("amounts are decimal strings, never floats")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise InvalidAmount(f"not an amount: {value!r}") from exc
        if not amount.is_finite():
            raise InvalidAmount(f"not an amount: {value!r}")
        if amount.adjusted() > 18:  # |amount| ≥ 10**19 yuan: past MAX_FEN, and Decimal may overflow on it
            raise InvalidAmount("amount too large")
        fen = amount * FEN_PER_YUAN
        if fen != fen.to_integral_value():
            raise InvalidAmount("amounts have at most two decimal places")
        if abs(fen) > MAX_FEN:
            raise InvalidAmount("amount too large")
        return cls(int(fen))

    @classmethod
    def zero(cls) -> "Money":
        return cls(0)

    def __add__(self, other: "Money") -> "Money":
        return Money(self.fen + other.fen)

    def __sub__(self, other: "Money") -> "Money":
        return Money(self.fen - other.fen)

    def __mul__(self, quantity: int) -> "Money":
        if not isinstance(quantity, int):
            raise TypeError("multiply Money by a whole quantity; use .rate() for rates")
        return Money(self.fen * quantity)

    def __neg__(self) -> "Money":
        return Money(-self.fen)

    def rate(self, rate: Decimal) -> "Money":
        """This amount times a rate, rounded half-up to the fen (fees, commission)."""
        return Money(int((Decimal(self.fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)))

    @property
    def yuan(self) -> Decimal:
        return (Decimal(self.fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))

    def __str__(self) -> str:
        return f"{self.yuan:.2f}"


def fen_str(fen: int) -> str:
    return str(Money(fen))


def parse_rate(value: "str | Decimal") -> Decimal:
    if isinstance(value, float):
        raise InvalidAmount("rates are decimal strings, never floats")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise InvalidAmount(f"not a rate: {value!r}") from exc
    if not rate.is_finite():
        raise InvalidAmount(f"not a rate: {value!r}")
    return rate
