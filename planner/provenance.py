"""Provenance: one typed record of what each input is, real or a stand-in, and where it came from.

A result never pretends to be more real than its inputs. The record is made where an input is made (a file
read, an OSM download, a synthetic network, estimated positions) and travels with the data in one place:

- on a pandas object, ``obj.attrs["provenance"]``;
- on the project's frozen values (``StreetNetwork``, ``TravelTimes``, ...), a ``provenance`` field.

Whatever shows a result (map banner, tables, ``metrics.json``, reports) reads only `provenance_of` and never
guesses from column names or text.

>>> streets = Source("streets", real=False, what="SYNTHETIC STAND-IN street network (not real streets)",
...                  what_zh="合成的替代路网（非真实街道）")
>>> census = Source("population", real=True, what="2020 census per district", origin="census bulletin")
>>> prov = Provenance((census,)) | Provenance((streets,))
>>> prov.is_stand_in, [s.input for s in prov.stand_ins]
(True, ['streets'])
>>> prov.banner_lines("zh")
['合成的替代路网（非真实街道）']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Where a pandas object keeps its record.
ATTR = "provenance"


@dataclass(frozen=True)
class Source:
    """One input: what it is, whether it is real, where it came from.

    Parameters
    ----------
    input
        Which input this is: ``"streets"``, ``"demand"``, ``"population"``, ``"areas"``,
        ``"sites:<tier>"``, ...
    real
        False for anything that stands in for missing data (synthetic streets, estimated positions,
        generated sites). A stand-in is labelled in every output that shows it.
    what
        A short English description; for a stand-in it starts with the words a reader must see
        (``"SYNTHETIC STAND-IN street network"``).
    what_zh
        The same in Chinese (officials read Chinese); falls back to `what` when empty.
    origin, licence, date
        Where the data came from (a file path, "OpenStreetMap contributors", "2020 census bulletin"), under
        which licence, and as of when.
    """

    input: str
    real: bool
    what: str
    what_zh: str = ""
    origin: str = ""
    licence: str = ""
    date: str = ""

    def label(self, lang: str = "en") -> str:
        """The description in ``"en"`` or ``"zh"``."""
        return (self.what_zh or self.what) if lang == "zh" else self.what


@dataclass(frozen=True)
class Provenance:
    """The sources behind a piece of data, in the order they were first met (no repeats)."""

    sources: tuple[Source, ...] = ()

    def __or__(self, other: Provenance) -> Provenance:
        """Both records, without repeats (the sources of data made from both)."""
        return Provenance(tuple(dict.fromkeys((*self.sources, *other.sources))))

    @property
    def stand_ins(self) -> tuple[Source, ...]:
        """The sources that stand in for missing data."""
        return tuple(s for s in self.sources if not s.real)

    @property
    def is_stand_in(self) -> bool:
        """True when any source is a stand-in."""
        return bool(self.stand_ins)

    def banner_lines(self, lang: str = "en") -> list[str]:
        """One line per stand-in, for a map banner or a report (empty when everything is real)."""
        return [s.label(lang) for s in self.stand_ins]

    def to_records(self) -> list[dict[str, Any]]:
        """Plain dicts for ``metrics.json``."""
        return [asdict(s) for s in self.sources]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> Provenance:
        """The inverse of `to_records` (reading a run folder back)."""
        return cls(tuple(Source(**r) for r in records))


def provenance_of(*objs: Any) -> Provenance:
    """The joined record of pandas objects (``attrs``) and planner values (``.provenance``); empty if none."""
    out = Provenance()
    for obj in objs:
        if obj is None:
            continue
        attrs = getattr(obj, "attrs", None)
        record = attrs.get(ATTR) if isinstance(attrs, dict) else getattr(obj, ATTR, None)
        if isinstance(record, Source):
            record = Provenance((record,))
        if isinstance(record, Provenance):
            out = out | record
    return out


def with_provenance(frame: Any, *records: Source | Provenance) -> Any:
    """A shallow copy of a pandas object carrying these records (joined with any it already has)."""
    out = frame.copy(deep=False)
    prov = provenance_of(frame)
    for record in records:
        prov = prov | (Provenance((record,)) if isinstance(record, Source) else record)
    out.attrs = {**frame.attrs, ATTR: prov}
    return out
