"""The pact: the MQL/SQL agreement between marketing and sales, as typed data.

A pact document is validated into these frozen models (pydantic is used for its
located validation errors; it does no IO). Rules are data — field, operator,
value — and are never evaluated as code. Cross-references that a schema cannot
express (a criterion naming an activity type no rule defines, a clock naming an
unknown department) are checked by `check_pact`, which returns every problem
with its path in the document so the loader can point at the YAML line.

Must not import: sqlalchemy, typer, fastapi, yaml parsers, or anything doing IO.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Path = tuple[str | int, ...]


class PactModel(BaseModel):
    """Base of every pact part: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    """What a department does in the funnel; permissions follow the role."""

    MARKETING = "marketing"
    INSIDE_SALES = "inside_sales"
    FIELD_SALES = "field_sales"


class Department(PactModel):
    id: Slug
    name: str
    name_en: str | None = None
    roles: tuple[Role, ...] = Field(min_length=1)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in `date.weekday()`."""
        return list(Weekday).index(self)


_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class ClosedDays(PactModel):
    """Company closed days: one date, a date range, or a range repeating every year."""

    label: str | None = None
    start: str = Field(alias="from")
    end: str | None = Field(default=None, alias="to")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("start", "end")
    @classmethod
    def _date_or_month_day(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if _MONTH_DAY.match(value):
            month, day = (int(p) for p in value.split("-"))
            date(2000, month, day)  # leap year: accepts 02-29, refuses 02-30
            return value
        date.fromisoformat(value)
        return value

    @property
    def is_yearly(self) -> bool:
        return _MONTH_DAY.match(self.start) is not None

    @model_validator(mode="after")
    def _same_kind(self) -> ClosedDays:
        if self.end is not None and (_MONTH_DAY.match(self.end) is not None) != self.is_yearly:
            raise ValueError("'from' and 'to' must both be MM-DD or both be YYYY-MM-DD")
        if self.end is not None and not self.is_yearly and self.end < self.start:
            raise ValueError("'to' is before 'from'")
        return self


class BusinessHours(PactModel):
    """Opening hours on business days, local time: a business day then ends at `close`."""

    opens: time = Field(alias="open")
    closes: time = Field(alias="close")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.closes <= self.opens:
            raise ValueError("'close' must be after 'open' on the same day")
        return self


class Calendar(PactModel):
    timezone: str = "Asia/Tokyo"
    workdays: tuple[Weekday, ...] = (
        Weekday.MON,
        Weekday.TUE,
        Weekday.WED,
        Weekday.THU,
        Weekday.FRI,
    )
    holidays: str | None = "JP"
    closed: tuple[ClosedDays, ...] = ()
    hours: BusinessHours | None = None
    # The month the company's fiscal year starts in (4: April, as most Japanese companies):
    # reports then take FY2026 and FY2026-Q1 as periods. 1: fiscal years are calendar years.
    fiscal_year_start: Annotated[int, Field(ge=1, le=12)] = 1

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)") from None
        return value

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in holidays.list_supported_countries():
            raise ValueError(f"unknown holiday country code {value!r} (use ISO 3166-1 alpha-2 such as JP)")
        return value

    @field_validator("workdays")
    @classmethod
    def _some_workdays(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("at least one workday is needed")
        return value


class PropertyMatch(PactModel):
    """Match an activity property against a glob (`*` any run, `?` one character)."""

    property: Annotated[str, Field(min_length=1)]
    glob: Annotated[str, Field(min_length=1)]


class BehaviourRule(PactModel):
    id: Slug
    label: str | None = None
    activity: Slug
    match: PropertyMatch | None = None
    points: float
    cap: Annotated[float, Field(gt=0)] | None = None
    half_life_days: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _cap_needs_positive_points(self) -> BehaviourRule:
        if self.cap is not None and self.points <= 0:
            raise ValueError("a cap only applies to a rule with positive points")
        return self


class Operator(StrEnum):
    EQ = "eq"
    IN = "in"
    GTE = "gte"
    LTE = "lte"
    CONTAINS = "contains"
    REGEX = "regex"
    EXISTS = "exists"


Scalar = str | int | float | bool


class AttributeCondition(PactModel):
    """A typed predicate on one lead attribute: `field op value`."""

    field: Annotated[str, Field(min_length=1)]
    op: Operator
    value: Scalar | tuple[Scalar, ...] | None = None

    @model_validator(mode="after")
    def _value_fits_operator(self) -> AttributeCondition:
        op, value = self.op, self.value
        if op is Operator.EXISTS:
            if value is not None and not isinstance(value, bool):
                raise ValueError("'exists' takes true, false or no value")
        elif op is Operator.IN:
            if not isinstance(value, tuple) or not value:
                raise ValueError("'in' needs a non-empty list of values")
        elif op in (Operator.GTE, Operator.LTE):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"'{op}' needs a number")
        elif op in (Operator.CONTAINS, Operator.REGEX):
            if not isinstance(value, str):
                raise ValueError(f"'{op}' needs a string")
            if op is Operator.REGEX:
                try:
                    re.compile(value)
                except re.error as exc:
                    raise ValueError(f"invalid regular expression: {exc}") from None
        elif value is None or isinstance(value, tuple):
            raise ValueError("'eq' needs a single value")
        return self


class AttributeRule(AttributeCondition):
    id: Slug
    label: str | None = None
    points: float


class Scoring(PactModel):
    behaviour: tuple[BehaviourRule, ...] = ()
    attributes: tuple[AttributeRule, ...] = ()


class MqlCriteria(PactModel):
    score_threshold: Annotated[float, Field(ge=0)]
    required_actions: tuple[Slug, ...] = ()
    attributes: tuple[AttributeCondition, ...] = ()
    responsible: Slug


class BantItem(StrEnum):
    BUDGET = "budget"
    AUTHORITY = "authority"
    NEED = "need"
    TIMELINE = "timeline"


class SqlCriteria(PactModel):
    bant_min: Annotated[int, Field(ge=0, le=4)]
    required_actions: tuple[Slug, ...] = ()
    required_facts: tuple[Slug, ...] = ()
    responsible: Slug


class ClockEvent(StrEnum):
    """Ledger events a handoff clock can start or stop at."""

    ENTERED_MQL = "entered_mql"
    ENTERED_SAL = "entered_sal"
    ENTERED_SQL = "entered_sql"
    ENTERED_OPPORTUNITY = "entered_opportunity"
    ENTERED_WON = "entered_won"
    ENTERED_LOST = "entered_lost"
    ENTERED_RECYCLED = "entered_recycled"
    ENTERED_DISQUALIFIED = "entered_disqualified"
    ASSIGNED = "assigned"
    FIRST_CONTACT = "first_contact"
    MEETING_SET = "meeting_set"


class DeadlineUnit(StrEnum):
    HOURS = "hours"
    BUSINESS_DAYS = "business_days"


_DEADLINE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(hours?|business\s+days?)\s*$", re.IGNORECASE)


class Deadline(PactModel):
    """A clock budget: hours on the wall clock, or business days on the pact calendar."""

    amount: Annotated[float, Field(gt=0)]
    unit: DeadlineUnit

    @model_validator(mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith(("-", "0 ")) or value.strip() == "0":
                raise ValueError(f"deadline {value!r} must be more than zero")
            found = _DEADLINE.match(value)
            if found is None:
                raise ValueError(f"deadline {value!r} must read like '24 hours' or '3 business days'")
            unit = DeadlineUnit.HOURS if found.group(2).lower().startswith("hour") else DeadlineUnit.BUSINESS_DAYS
            return {"amount": float(found.group(1)), "unit": unit}
        return value

    @model_validator(mode="after")
    def _whole_business_days(self) -> Deadline:
        if self.unit is DeadlineUnit.BUSINESS_DAYS and self.amount != int(self.amount):
            raise ValueError(f"a business-day deadline is a whole number of days, not {self.amount:g}")
        return self

    def describe(self) -> str:
        amount = f"{self.amount:g}"
        if self.unit is DeadlineUnit.HOURS:
            return f"{amount} hours"
        return f"{amount} business days"


class ClockStage(StrEnum):
    MQL = "mql"
    SQL = "sql"


class ClockKind(StrEnum):
    HANDOFF = "handoff"
    FOLLOW_UP = "follow_up"


class HandoffClock(PactModel):
    id: Slug
    label: str | None = None
    stage: ClockStage
    kind: ClockKind
    start: ClockEvent
    stop: tuple[ClockEvent, ...] = Field(min_length=1)
    deadline: Deadline
    responsible: Slug
    # The share of the budget left when a running clock turns "due soon" (0.25: the last quarter).
    due_soon: Annotated[float, Field(gt=0, lt=1)] = 0.25

    @field_validator("stop", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class RoutingRule(PactModel):
    """Leads whose attributes meet every condition go round robin to this rule's reps."""

    id: Slug
    label: str | None = None
    when: tuple[AttributeCondition, ...] = ()
    # User names; empty: every active member of `department` (or of the routing's department).
    reps: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    department: Slug | None = None
    capacity_per_day: Annotated[int, Field(ge=1)] | None = None


class Routing(PactModel):
    """How new MQLs reach inside sales: the first rule a lead matches picks the pool, else the
    department's active members; round robin within the pool, at most `capacity_per_day`
    new leads per rep and business day."""

    department: Slug
    capacity_per_day: Annotated[int, Field(ge=1)] | None = None
    rules: tuple[RoutingRule, ...] = ()


class ReasonCode(PactModel):
    code: Slug
    label: str
    label_en: str | None = None


class ReasonCodes(PactModel):
    recycle: tuple[ReasonCode, ...] = Field(min_length=1)
    disqualify: tuple[ReasonCode, ...] = Field(min_length=1)


class ReviewCycle(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"


class Kpi(StrEnum):
    """The shared KPIs, in funnel order; each one's definition is in docs/kpis.md (`domain.kpis`)."""

    MQL_COUNT = "mql_count"
    RE_MQL_COUNT = "re_mql_count"
    MQL_TO_SAL_RATE = "mql_to_sal_rate"
    MQL_TO_SAL_HOURS = "mql_to_sal_hours"
    TIME_TO_FIRST_CONTACT_HOURS = "time_to_first_contact_hours"
    MQL_TO_SQL_RATE = "mql_to_sql_rate"
    SQL_TO_OPPORTUNITY_RATE = "sql_to_opportunity_rate"
    OPPORTUNITY_TO_WON_RATE = "opportunity_to_won_rate"
    RECYCLE_RATE = "recycle_rate"
    SQL_WITHOUT_MQL = "sql_without_mql"
    SLA_COMPLIANCE = "sla_compliance"
    NEGLECTED_LEADS = "neglected_leads"


class KpiPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"


class KpiTarget(PactModel):
    kpi: Kpi
    target: Annotated[float, Field(ge=0)]
    per: KpiPeriod = KpiPeriod.QUARTER
    owner: Slug


class Pact(PactModel):
    """One version of the agreement, as both departments sign it."""

    name: str
    departments: tuple[Department, ...] = Field(min_length=1)
    approvers: tuple[Slug, ...] = Field(min_length=1)
    calendar: Calendar = Calendar()
    scoring: Scoring
    mql: MqlCriteria
    sql: SqlCriteria
    clocks: tuple[HandoffClock, ...] = ()
    routing: Routing | None = None
    reason_codes: ReasonCodes
    review_cycle: ReviewCycle = ReviewCycle.QUARTERLY
    kpi_targets: tuple[KpiTarget, ...] = ()

    def department(self, department_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)

    def roles_of(self, department_id: str) -> frozenset[Role]:
        found = self.department(department_id)
        return frozenset(found.roles) if found else frozenset()

    def departments_with(self, role: Role) -> tuple[str, ...]:
        return tuple(d.id for d in self.departments if role in d.roles)

    def activity_types(self) -> frozenset[str]:
        return frozenset(self.action_types)

    @property
    def action_types(self) -> tuple[str, ...]:
        """The activity types the pact scores, sorted: the only ones a lead's `actions` record.

        Required actions must be among them (`check_pact`), so nothing the criteria ask for is lost,
        and a score state stays a fixed width per pact version.
        """
        return tuple(sorted({rule.activity for rule in self.scoring.behaviour}))

    def reason(self, kind: Literal["recycle", "disqualify"], code: str) -> ReasonCode | None:
        return next((r for r in getattr(self.reason_codes, kind) if r.code == code), None)


class PactProblem(PactModel):
    """One thing wrong with a pact document, located by its path in the document."""

    path: Path
    message: str


def check_pact(pact: Pact) -> list[PactProblem]:
    """Cross-reference checks a schema cannot express; empty when the pact is coherent."""
    return list(_cross_reference_problems(pact))


def _cross_reference_problems(pact: Pact) -> Iterator[PactProblem]:
    department_ids = [d.id for d in pact.departments]
    for i, dep in enumerate(pact.departments):
        if dep.id in department_ids[:i]:
            yield PactProblem(path=("departments", i, "id"), message=f"department {dep.id!r} is defined twice")
    known = set(department_ids)
    for role in Role:
        if not pact.departments_with(role):
            yield PactProblem(path=("departments",), message=f"no department has the role {role.value!r}")

    def unknown_department(path: Path, dep: str) -> Iterator[PactProblem]:
        if dep not in known:
            yield PactProblem(path=path, message=f"unknown department {dep!r} (defined: {', '.join(sorted(known))})")

    for i, approver in enumerate(pact.approvers):
        yield from unknown_department(("approvers", i), approver)
    if len(set(pact.approvers)) != len(pact.approvers):
        yield PactProblem(path=("approvers",), message="a department is listed twice among the approvers")

    seen_rules: set[str] = set()
    for section in ("behaviour", "attributes"):
        for i, rule in enumerate(getattr(pact.scoring, section)):
            if rule.id in seen_rules:
                yield PactProblem(path=("scoring", section, i, "id"), message=f"rule id {rule.id!r} is used twice")
            seen_rules.add(rule.id)

    activities = pact.activity_types()
    defined = ", ".join(sorted(activities)) or "none"
    for section, criteria in (("mql", pact.mql), ("sql", pact.sql)):
        for i, action in enumerate(criteria.required_actions):
            if action not in activities:
                yield PactProblem(
                    path=(section, "required_actions", i),
                    message=f"activity type {action!r} is not defined by any behaviour rule (defined: {defined})",
                )
        yield from unknown_department((section, "responsible"), criteria.responsible)

    clock_ids: set[str] = set()
    for i, clock in enumerate(pact.clocks):
        if clock.id in clock_ids:
            yield PactProblem(path=("clocks", i, "id"), message=f"clock id {clock.id!r} is used twice")
        clock_ids.add(clock.id)
        if clock.start in clock.stop:
            yield PactProblem(path=("clocks", i, "stop"), message="a clock cannot stop at the event that starts it")
        yield from unknown_department(("clocks", i, "responsible"), clock.responsible)

    if pact.routing is not None:
        yield from _routing_problems(pact, pact.routing, unknown_department)

    for kind in ("recycle", "disqualify"):
        codes = [r.code for r in getattr(pact.reason_codes, kind)]
        for i, code in enumerate(codes):
            if code in codes[:i]:
                yield PactProblem(path=("reason_codes", kind, i, "code"), message=f"reason code {code!r} is used twice")

    for i, target in enumerate(pact.kpi_targets):
        yield from unknown_department(("kpi_targets", i, "owner"), target.owner)
        if (target.kpi.value.endswith("_rate") or target.kpi is Kpi.SLA_COMPLIANCE) and target.target > 1:
            yield PactProblem(
                path=("kpi_targets", i, "target"),
                message=f"{target.kpi.value} is a share: write 0.3 for 30 %",
            )


def _routing_problems(
    pact: Pact, routing: Routing, unknown_department: Callable[[Path, str], Iterator[PactProblem]]
) -> Iterator[PactProblem]:
    def not_inside_sales(path: Path, dep: str) -> Iterator[PactProblem]:
        if pact.department(dep) is not None and Role.INSIDE_SALES not in pact.roles_of(dep):
            yield PactProblem(path=path, message=f"leads are routed to inside sales, and {dep!r} has not that role")

    yield from unknown_department(("routing", "department"), routing.department)
    yield from not_inside_sales(("routing", "department"), routing.department)
    rule_ids: set[str] = set()
    for i, rule in enumerate(routing.rules):
        if rule.id in rule_ids:
            yield PactProblem(path=("routing", "rules", i, "id"), message=f"routing rule id {rule.id!r} is used twice")
        rule_ids.add(rule.id)
        if rule.department is not None:
            yield from unknown_department(("routing", "rules", i, "department"), rule.department)
            yield from not_inside_sales(("routing", "rules", i, "department"), rule.department)
        for j, rep in enumerate(rule.reps):
            if rep in rule.reps[:j]:
                yield PactProblem(path=("routing", "rules", i, "reps", j), message=f"{rep!r} is listed twice")
        if not rule.when and i < len(routing.rules) - 1:
            yield PactProblem(
                path=("routing", "rules", i, "when"),
                message="a rule without conditions takes every lead: the rules after it would never match",
            )
