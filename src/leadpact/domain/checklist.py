"""The seed's 12-item responsibility checklist, judged from what the system itself records.

Each item of マーケ・営業責任分担チェックリスト is a rule over a `Snapshot` of the store (the
pact versions and their sign-offs, the people, the channels, the feeds, the ledger's returns)
taken at one instant `now`. A rule says what holds, with the evidence (names, dates, versions,
counts), and what to do when something is missing: a leadpact command or a pact section.

An item *passes* when everything its rule asks holds, is *partial* when the agreement is there
but the record shows it is not (fully) practised, and *fails* when the agreement itself is
missing. The rules, their thresholds and their windows are documented in docs/checklist.md.

Must not import: IO, storage or entry-point libraries.
"""

from __future__ import annotations

import calendar as months
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from leadpact.domain.agreement import Lang, agreement_rows
from leadpact.domain.calendar import BusinessCalendar
from leadpact.domain.lifecycle import ReasonKind
from leadpact.domain.pact import (
    Calendar,
    ClockKind,
    ClockStage,
    Deadline,
    DeadlineUnit,
    HandoffClock,
    Kpi,
    KpiTarget,
    Pact,
    ReviewCycle,
    Role,
)

# A feed is current when its newest data arrived within this many business days (a weekly
# export passes, holidays included); older, the statuses leadpact shows may be stale.
FRESH_BUSINESS_DAYS: Final = 5
# A sweep records every clock already late, so a clock late for longer than this and still
# unrecorded means no sweep ran for at least that long: detection is not running.
SWEEP_GRACE: Final = timedelta(hours=24)
CYCLE_MONTHS: Final = {
    ReviewCycle.MONTHLY: 1,
    ReviewCycle.QUARTERLY: 3,
    ReviewCycle.SEMIANNUAL: 6,
    ReviewCycle.ANNUAL: 12,
}
SALES_ROLES: Final = frozenset({Role.INSIDE_SALES, Role.FIELD_SALES})
# The seed names these two as the shared KPIs every pact should carry.
REQUIRED_KPIS: Final = (Kpi.MQL_COUNT, Kpi.MQL_TO_SQL_RATE)
RETURN_STAGES: Final = ("recycled", "disqualified")


# --- what the checklist says -------------------------------------------------------------------


class Status(StrEnum):
    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Said:
    """One sentence, in Japanese and in English."""

    ja: str
    en: str

    def __call__(self, lang: Lang) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True, slots=True)
class ItemResult:
    id: str
    title: Said
    status: Status
    evidence: tuple[Said, ...]
    next_step: Said | None  # what to do; None when the item passes


@dataclass(frozen=True, slots=True)
class Checklist:
    now: datetime
    items: tuple[ItemResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for item in self.items if item.status is status)


# --- what the checklist is judged from ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    user: str
    department: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PactRecord:
    """One stored pact version and its sign-offs."""

    version: int
    pact: Pact
    status: str  # draft | active | superseded
    proposed_by: str
    proposed_at: datetime
    activated_at: datetime | None
    approvals: tuple[Signature, ...]

    def waiting_for(self) -> tuple[str, ...]:
        signed = {a.department for a in self.approvals}
        return tuple(d for d in self.pact.approvers if d not in signed)


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    department: str
    email: str | None
    is_active: bool


@dataclass(frozen=True, slots=True)
class ChannelReach:
    """A configured notification channel and the responsible departments it serves (all when empty)."""

    id: str
    type: str
    departments: frozenset[str]

    def serves(self, department: str) -> bool:
        return not self.departments or department in self.departments


class Side(StrEnum):
    """Which half of a lead's status a feed brings: marketing's (leads, activities) or sales'
    (stages, owners, contacts)."""

    MARKETING = "marketing"
    SALES = "sales"


@dataclass(frozen=True, slots=True)
class Feed:
    """Data from one MA/SFA source, by one path (events: ingest and webhooks; import: files)."""

    source: str
    side: Side
    via: str  # events | import
    last_at: datetime  # when leadpact last received data from it
    rows: int


@dataclass(frozen=True, slots=True)
class Returned:
    """Leads a department moved back to marketing (recycled) or out (disqualified) in the window."""

    department: str
    to_stage: str  # recycled | disqualified
    reason: str | None
    pact_version: int | None
    count: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    now: datetime
    versions: tuple[PactRecord, ...]
    members: tuple[Member, ...]
    leads: int  # live leads (merged ones not counted)
    scored: int  # of them, with a score stored under the active version
    channels: tuple[ChannelReach, ...]
    channels_file: str | None
    channel_problems: int  # problems found in the channels file (its channels are then unusable)
    unswept: int  # late clocks no sweep recorded, due before now - SWEEP_GRACE
    oldest_unswept_due: datetime | None
    last_breach_at: datetime | None
    feeds: tuple[Feed, ...]
    since: datetime  # the start of the last review cycle: the window for returns and assignments
    returns: tuple[Returned, ...]
    assignments: int  # assignments recorded in [since, now]
    review_cycle_written: bool = True  # False: the active version's text leaves review_cycle to its default

    @property
    def active(self) -> PactRecord | None:
        return next((v for v in self.versions if v.status == "active"), None)


# --- time ---------------------------------------------------------------------------------------


def zone_of(pact: Pact | None) -> ZoneInfo:
    return ZoneInfo((pact.calendar if pact else Calendar()).timezone)


def shift_months(at: datetime, by: int, zone: ZoneInfo) -> datetime:
    """The same local time `by` months later (earlier when negative); the 31st becomes the month's last day."""
    local = at.astimezone(zone)
    index = local.year * 12 + local.month - 1 + by
    year, month = divmod(index, 12)
    day = min(local.day, months.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day).astimezone(at.tzinfo)


def cycle_start(now: datetime, pact: Pact | None) -> datetime:
    """The start of the review cycle that ends at `now` (a quarter when no pact says otherwise)."""
    cycle = pact.review_cycle if pact else ReviewCycle.QUARTERLY
    return shift_months(now, -CYCLE_MONTHS[cycle], zone_of(pact))


# --- the items ----------------------------------------------------------------------------------


def evaluate(snapshot: Snapshot) -> Checklist:
    """Every item of the checklist, in the seed's order."""
    view = _View(snapshot)
    return Checklist(now=snapshot.now, items=tuple(rule(view) for rule in RULES))


class _View:
    """The snapshot with what every rule needs about the active pact worked out once."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.s = snapshot
        self.active = snapshot.active
        self.pact = self.active.pact if self.active else None
        self.zone = zone_of(self.pact)
        self.calendar = BusinessCalendar.of(self.pact.calendar if self.pact else Calendar())

    def day(self, at: datetime) -> str:
        return f"{at.astimezone(self.zone):%Y-%m-%d}"

    def is_past(self, due: datetime) -> bool:
        """Whether the local day `due` falls on has ended by now: a review is due by a day, not an instant."""
        return self.s.now.astimezone(self.zone).date() > due.astimezone(self.zone).date()

    def dept(self, department_id: str) -> Said:
        found = self.pact.department(department_id) if self.pact else None
        if found is None:
            return Said(department_id, department_id)
        return Said(found.name, found.name_en or found.name)

    def departments_with(self, roles: frozenset[Role]) -> tuple[str, ...]:
        assert self.pact is not None
        return tuple(d.id for d in self.pact.departments if roles & set(d.roles))

    def active_members(self, department: str) -> list[Member]:
        return [m for m in self.s.members if m.is_active and m.department == department]

    def no_active_pact(self, item: str, title: Said) -> ItemResult:
        """The same failure for every item that needs a signed pact, with the way to get one."""
        drafts = [v for v in self.s.versions if v.status == "draft"]
        if drafts:
            newest = drafts[-1]
            waiting = ", ".join(newest.waiting_for()) or "—"
            evidence = (
                Said(
                    f"有効な合意書がありません。v{newest.version} は承認待ちです (未承認: {waiting})",
                    f"no pact is active; draft v{newest.version} waits for: {waiting}",
                ),
            )
            step = Said(
                f"未承認の部門の責任者が `leadpact pact approve {newest.version} --by USER` で承認する",
                f"the head of each department still missing approves it: "
                f"`leadpact pact approve {newest.version} --by USER`",
            )
        else:
            evidence = (Said("有効な合意書がありません", "no pact is active"),)
            step = Said(
                "`leadpact pact propose pact.yaml --by USER` で合意書を提案し、各部門が "
                "`leadpact pact approve VERSION --by USER` で承認する (examples/pact.yaml)",
                "propose the pact with `leadpact pact propose pact.yaml --by USER`, then each department "
                "approves it with `leadpact pact approve VERSION --by USER` (see examples/pact.yaml)",
            )
        return ItemResult(item, title, Status.FAIL, evidence, step)


Rule = Callable[[_View], ItemResult]


def _result(item: str, title: Said, evidence: list[Said], problems: list[Said], step: Said | None) -> ItemResult:
    """Pass when nothing is wrong; otherwise the problems come first and the step says what to do."""
    if not problems:
        return ItemResult(item, title, Status.PASS, tuple(evidence), None)
    return ItemResult(item, title, Status.PARTIAL, (*problems, *evidence), step)


def _joined(steps: list[Said]) -> Said | None:
    """Several things to do, as one step."""
    if not steps:
        return None
    return Said(" / ".join(x.ja for x in steps), "; ".join(x.en for x in steps))


def _fail(item: str, title: Said, problems: list[Said], evidence: list[Said], step: Said) -> ItemResult:
    return ItemResult(item, title, Status.FAIL, (*problems, *evidence), step)


def _signatures(view: _View, record: PactRecord) -> Said:
    ja = "、".join(f"{a.user} ({view.dept(a.department).ja}) {view.day(a.at)}" for a in record.approvals)
    en_parts = [f"{a.user} ({view.dept(a.department).en}) {view.day(a.at)}" for a in record.approvals]
    en = ", ".join(en_parts[:-1]) + f" and {en_parts[-1]}" if len(en_parts) > 1 else "".join(en_parts)
    since = view.day(record.activated_at) if record.activated_at else "—"
    return Said(
        f"v{record.version} を承認: {ja or '—'} (有効化 {since})",
        f"v{record.version} approved by {en or 'nobody'}; active since {since}",
    )


def _missing_signers(view: _View, record: PactRecord, responsible: str) -> list[Said]:
    """Who should have signed a definition and is not among the version's approvers."""
    pact = record.pact
    approvers = set(pact.approvers)
    missing: list[Said] = []
    if not approvers & set(view.departments_with(frozenset({Role.MARKETING}))):
        missing.append(Said("マーケティング側の部門", "a marketing department"))
    if not approvers & set(view.departments_with(SALES_ROLES)):
        missing.append(Said("営業側の部門", "a sales department"))
    if responsible not in approvers:
        name = view.dept(responsible)
        missing.append(Said(f"責任部門の{name.ja}", f"{name.en}, the responsible department"))
    return missing


def _definition(view: _View, which: str) -> ItemResult:
    title = {
        "mql": Said(
            "MQL定義が両部門で合意・文書化されている",
            "The MQL definition is agreed by both departments and written down",
        ),
        "sql": Said(
            "SQL定義が両部門で合意・文書化されている",
            "The SQL definition is agreed by both departments and written down",
        ),
    }[which]
    item = f"{which}_definition"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    record, pact = view.active, view.pact
    shown: dict[Lang, str] = {}
    for lang in ("ja", "en"):
        cells = [(row.item, row.mql if which == "mql" else row.sql) for row in agreement_rows(pact, lang)[:3]]
        shown[lang] = "; ".join(f"{item_name} {cell}" for item_name, cell in cells if cell != "—")
    responsible = pact.mql.responsible if which == "mql" else pact.sql.responsible
    name = view.dept(responsible)
    evidence = [
        _signatures(view, record),
        Said(f"定義: {shown['ja']} (責任部門 {name.ja})", f"definition: {shown['en']} (responsible: {name.en})"),
    ]
    problems: list[Said] = []
    missing = _missing_signers(view, record, responsible)
    if missing:
        problems.append(
            Said(
                f"v{record.version} は両部門の合意になっていません: "
                f"承認者に{'・'.join(m.ja for m in missing)}がいません",
                f"v{record.version} is not agreed by both sides: "
                f"its approvers lack {' and '.join(m.en for m in missing)}",
            )
        )
    if which == "mql" and pact.mql.score_threshold == 0 and not pact.mql.required_actions and not pact.mql.attributes:
        problems.append(
            Said(
                "MQL定義に条件がありません (閾値0、必須行動なし、属性条件なし): すべてのリードがMQLになります",
                "the MQL definition sets no criterion (threshold 0, no required action, no attribute condition): "
                "every lead is an MQL",
            )
        )
    if which == "sql" and pact.sql.bant_min == 0 and not pact.sql.required_actions and not pact.sql.required_facts:
        problems.append(
            Said(
                "SQL定義に条件がありません (BANT 0、必須行動なし、必須事項なし): どのリードもSQLにできます",
                "the SQL definition sets no criterion (BANT 0 of 4, no required action, no required fact): "
                "any lead may be moved to SQL",
            )
        )
    if not problems:
        return ItemResult(item, title, Status.PASS, tuple(evidence), None)
    section = which
    step = Said(
        f"合意書の {section}: に条件を書き、approvers にマーケティングと営業の両部門を入れて "
        "`leadpact pact propose` で提案し、全部門が承認する",
        f"write the criteria under {section}: with marketing and sales both among the approvers, propose it "
        "with `leadpact pact propose` and have every department approve it",
    )
    return _fail(item, title, problems, evidence, step)


def mql_definition(view: _View) -> ItemResult:
    return _definition(view, "mql")


def sql_definition(view: _View) -> ItemResult:
    return _definition(view, "sql")


def scoring(view: _View) -> ItemResult:
    title = Said("リードスコアリングの基準が設定されている", "Lead scoring criteria are set")
    item = "scoring"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    pact, version = view.pact, view.active.version
    behaviour, attributes = len(pact.scoring.behaviour), len(pact.scoring.attributes)
    threshold = pact.mql.score_threshold
    evidence = [
        Said(
            f"v{version}: 行動スコアのルール {behaviour}件、属性スコアのルール {attributes}件、MQL閾値 {threshold:g}点",
            f"v{version}: {behaviour} behaviour rules, {attributes} attribute rules, MQL threshold {threshold:g}",
        )
    ]
    missing: list[Said] = []
    if not behaviour:
        missing.append(Said("行動スコアのルールがありません", "no behaviour rule"))
    if not attributes:
        missing.append(Said("属性スコアのルールがありません", "no attribute rule"))
    if threshold <= 0:
        missing.append(
            Said("MQL閾値が0点です: スコアがMQLを分けていません", "the MQL threshold is 0: scores decide nothing")
        )
    if missing:
        step = Said(
            "合意書の scoring: に行動(behaviour)と属性(attributes)のルールを、mql.score_threshold に閾値を書き、"
            "提案・承認する (docs/pact.md#scoring)",
            "write behaviour and attribute rules under scoring: and a threshold in mql.score_threshold, then propose "
            "and sign the pact (docs/pact.md#scoring)",
        )
        return _fail(item, title, missing, evidence, step)
    s = view.s
    if not s.leads:
        evidence.append(Said("まだリードがありません", "no leads yet"))
        return _result(item, title, evidence, [], None)
    evidence.append(
        Said(
            f"リード {s.leads:,}件中 {s.scored:,}件に v{version} のスコアがあります",
            f"{s.scored:,} of {s.leads:,} leads have a score under v{version}",
        )
    )
    problems = []
    if s.scored < s.leads:
        unscored = s.leads - s.scored
        problems.append(
            Said(
                f"{unscored:,}件のリードに v{version} のスコアが保存されていません",
                f"{unscored:,} leads have no stored score under v{version}",
            )
        )
    step = Said(
        f"`leadpact rescore` で全リードを v{version} でスコアリングし直す",
        f"run `leadpact rescore` to score every lead under v{version}",
    )
    return _result(item, title, evidence, problems, step)


def _deadline(deadline: Deadline) -> Said:
    amount = f"{deadline.amount:g}"
    if deadline.unit is DeadlineUnit.HOURS:
        return Said(f"{amount}時間以内", f"within {amount} hours")
    return Said(f"{amount}営業日以内", f"within {amount} business days")


def _clock(view: _View, clock: HandoffClock) -> Said:
    label, dept, within = clock.label or clock.id, view.dept(clock.responsible), _deadline(clock.deadline)
    stops = "/".join(s.value for s in clock.stop)
    return Said(
        f"{label}: {clock.start.value} → {stops}、{within.ja} ({dept.ja})",
        f"{label}: {clock.start.value} → {stops} {within.en} ({dept.en})",
    )


def mql_handoff(view: _View) -> ItemResult:
    title = Said(
        "MQL→ISへの引き渡しルール(期限・方法)が決まっている",
        "The MQL → inside sales handoff rule (deadline and method) is decided",
    )
    item = "mql_handoff"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    pact, s = view.pact, view.s
    handoffs = [c for c in pact.clocks if c.stage is ClockStage.MQL and c.kind is ClockKind.HANDOFF]
    evidence = [_clock(view, c) for c in handoffs]
    assigned = Said(
        f"{view.day(s.since)} 以降の割り当て {s.assignments:,}件",
        f"{s.assignments:,} assignments since {view.day(s.since)}",
    )
    if not handoffs:
        problem = Said(
            "MQLの引き渡し期限 (stage: mql, kind: handoff の時計) がありません",
            "no MQL handoff deadline (a clock with stage: mql, kind: handoff)",
        )
        step = Said(
            "合意書の clocks: に `{id: mql_handoff, stage: mql, kind: handoff, start: entered_mql, stop: assigned, "
            "deadline: 24 hours, responsible: marketing}` を加えて提案・承認する",
            "add `{id: mql_handoff, stage: mql, kind: handoff, start: entered_mql, stop: assigned, deadline: 24 hours, "
            "responsible: marketing}` under clocks: and sign the pact",
        )
        return _fail(item, title, [problem], [*evidence, assigned], step)
    routing = pact.routing
    if routing is None:
        problem = Said(
            "合意書に振り分け方法 (routing) がありません: 割り当ては手作業かSFA次第です",
            "the pact does not say how MQLs reach inside sales (no routing): assignments are by hand or by the SFA",
        )
        step = Said(
            "合意書に routing: (振り分け先の部門、1人1日の上限、条件付きのルール) を書いて提案・承認し、"
            "`leadpact route` で割り当てる (docs/routing.md)",
            "write the method under routing: (the inside sales pool, a daily cap, rules) in the pact, sign it and "
            "assign with `leadpact route` (docs/routing.md)",
        )
        status = Status.PARTIAL if s.assignments else Status.FAIL
        return ItemResult(item, title, status, (problem, *evidence, assigned), step)
    pool = view.active_members(routing.department)
    cap = routing.capacity_per_day
    name = view.dept(routing.department)
    evidence.append(
        Said(
            f"振り分け: {name.ja}の有効な担当者 {len(pool)}名にラウンドロビン"
            + (f"、1人1日{cap}件まで" if cap else "")
            + (f"、条件付きルール {len(routing.rules)}件" if routing.rules else ""),
            f"routing: round robin among the {len(pool)} active reps of {name.en}"
            + (f", at most {cap} a day each" if cap else "")
            + (f", {len(routing.rules)} conditional rules" if routing.rules else ""),
        )
    )
    evidence.append(assigned)
    problems = []
    if not pool:
        problems.append(
            Said(f"振り分け先の{name.ja}に有効な担当者がいません", f"the routing pool {name.en} has no active rep")
        )
    step = Said(
        f"`leadpact user add NAME --department {routing.department}` で担当者を加える",
        f"add the reps with `leadpact user add NAME --department {routing.department}`",
    )
    return _result(item, title, evidence, problems, step)


def sql_handoff(view: _View) -> ItemResult:
    title = Said(
        "IS→FSへの引き渡しルール(期限・方法)が決まっている",
        "The inside sales → field sales handoff rule (deadline and method) is decided",
    )
    item = "sql_handoff"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    pact = view.pact
    field_sales = set(view.departments_with(frozenset({Role.FIELD_SALES})))
    clocks = [c for c in pact.clocks if c.stage is ClockStage.SQL and c.responsible in field_sales]
    rows = {lang: agreement_rows(pact, lang)[:3] for lang in ("ja", "en")}
    evidence = [_clock(view, c) for c in clocks]
    evidence.append(
        Said(
            "引き渡しの条件 (SQL定義): " + "; ".join(r.sql for r in rows["ja"] if r.sql != "—"),
            "handed over when the SQL criteria hold: " + "; ".join(r.sql for r in rows["en"] if r.sql != "—"),
        )
    )
    if not clocks:
        problem = Said(
            "FSへの引き渡し後の期限 (stage: sql で営業部門が責任を持つ時計) がありません",
            "no deadline after the handoff to field sales (a clock with stage: sql that a field sales department "
            "answers for)",
        )
        step = Said(
            "合意書の clocks: に `{id: fs_meeting, stage: sql, kind: follow_up, start: entered_sql, "
            "stop: [meeting_set, entered_opportunity], deadline: 5 business days, responsible: field_sales}` "
            "を加えて提案・承認する",
            "add `{id: fs_meeting, stage: sql, kind: follow_up, start: entered_sql, stop: [meeting_set, "
            "entered_opportunity], deadline: 5 business days, responsible: field_sales}` under clocks: and sign "
            "the pact",
        )
        return _fail(item, title, [problem], evidence, step)
    problems = []
    unstaffed = []
    for department in sorted({c.responsible for c in clocks}):
        name, count = view.dept(department), len(view.active_members(department))
        if count:
            evidence.append(
                Said(f"受け手: {name.ja} (有効なメンバー {count}名)", f"taken by {name.en} ({count} active members)")
            )
        else:
            unstaffed.append(department)
            problems.append(
                Said(
                    f"{name.ja}に有効なメンバーがいません: SQLを受ける人がいません",
                    f"{name.en} has no one to take SQLs",
                )
            )
    listed = ", ".join(unstaffed)
    step = Said(
        f"`leadpact user add NAME --department DEPT` で受け手を加える ({listed})",
        f"add the people who take SQLs with `leadpact user add NAME --department DEPT` ({listed})",
    )
    return _result(item, title, evidence, problems, step)


def neglect_detection(view: _View) -> ItemResult:
    title = Said("リード放置を検知する仕組みがある", "Neglected leads are detected")
    item = "neglect_detection"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    pact, s = view.pact, view.s
    evidence = [_clock(view, c) for c in pact.clocks]
    if not pact.clocks:
        problem = Said("合意書に期限 (clocks) がありません: 放置を判定できません", "the pact sets no deadline (clocks)")
        step = Said(
            "合意書の clocks: に引き渡しとフォローの期限を書いて提案・承認する (docs/pact.md#clocks)",
            "write the handoff and follow-up deadlines under clocks: and sign the pact (docs/pact.md#clocks)",
        )
        return _fail(item, title, [problem], evidence, step)
    if s.channel_problems:
        problem = Said(
            f"通知チャネルの設定ファイル {s.channels_file} に {s.channel_problems}件の問題があり、使えません",
            f"the channels file {s.channels_file} has {s.channel_problems} problem(s) and cannot be used",
        )
        step = Said(
            "`leadpact channels check` で問題の行を確かめて直す",
            "run `leadpact channels check` and fix the lines it names",
        )
        return _fail(item, title, [problem], evidence, step)
    if not s.channels:
        problem = Said("通知チャネルが設定されていません", "no notification channel configured")
        step = Said(
            "LEADPACT_CHANNELS または --channels FILE で通知チャネル (Slack・メール・Webhook) を設定し、"
            "`leadpact sla sweep` を定期実行する (examples/channels.yaml, docs/sla.md)",
            "configure notification channels (Slack, e-mail, webhook) with LEADPACT_CHANNELS or --channels FILE and "
            "run `leadpact sla sweep` on a schedule (examples/channels.yaml, docs/sla.md)",
        )
        return _fail(item, title, [problem], evidence, step)
    evidence.append(
        Said(
            "通知チャネル: " + ", ".join(f"{c.id} ({c.type})" for c in s.channels),
            "notification channels: " + ", ".join(f"{c.id} ({c.type})" for c in s.channels),
        )
    )
    if s.last_breach_at is not None:
        at = view.day(s.last_breach_at)
        evidence.append(Said(f"最後に記録された期限切れ: {at}", f"the last breach was recorded on {at}"))
    problems: list[Said] = []
    steps: list[Said] = []
    responsible = {c.responsible for c in pact.clocks}
    unserved = [d.id for d in pact.departments if d.id in responsible and not any(ch.serves(d.id) for ch in s.channels)]
    if unserved:
        names = [view.dept(d) for d in unserved]
        problems.append(
            Said(
                f"{'、'.join(n.ja for n in names)}の期限切れはどのチャネルにも届きません",
                f"breaches of {', '.join(n.en for n in names)} reach no channel",
            )
        )
        steps.append(
            Said(
                f"チャネルの departments: に {', '.join(unserved)} を加える",
                f"add {', '.join(unserved)} to a channel's departments:",
            )
        )
    if s.unswept:
        # a deadline at midnight closes the day before it: that is the day people know it by
        oldest = f"{view.calendar.due_day(s.oldest_unswept_due)}" if s.oldest_unswept_due else "—"
        problems.append(
            Said(
                f"期限を24時間以上過ぎた時計 {s.unswept:,}件が記録されていません (最も古い期限 {oldest}): "
                "放置の検知 (sla sweep) が動いていません",
                f"{s.unswept:,} clocks more than 24 hours past due were never recorded (the oldest due {oldest}): "
                "the neglected-lead sweep is not running",
            )
        )
        steps.append(
            Said(
                "`leadpact sla sweep` を定期実行する (例: cron で1時間ごと)",
                "run `leadpact sla sweep` on a schedule (e.g. hourly from cron)",
            )
        )
    return _result(item, title, evidence, problems, _joined(steps))


def _target(target: KpiTarget) -> str:
    if target.kpi.value.endswith("_rate") or target.kpi is Kpi.SLA_COMPLIANCE:
        return f"{target.target * 100:g}%"
    return f"{target.target:g}"


def shared_kpis(view: _View) -> ItemResult:
    title = Said(
        "共通KPI(MQL数、MQL→SQL転換率等)が設定されている", "Shared KPIs (MQL count, MQL → SQL rate, …) are set"
    )
    item = "shared_kpis"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    pact = view.pact
    per = {"month": Said("月", "month"), "quarter": Said("四半期", "quarter")}
    evidence = [
        Said(
            f"{t.kpi.value} {_target(t)}/{per[t.per.value].ja} ({view.dept(t.owner).ja})",
            f"{t.kpi.value} {_target(t)} per {per[t.per.value].en} ({view.dept(t.owner).en})",
        )
        for t in pact.kpi_targets
    ]
    problems: list[Said] = []
    set_kpis = {t.kpi for t in pact.kpi_targets}
    for kpi in REQUIRED_KPIS:
        if kpi not in set_kpis:
            problems.append(Said(f"{kpi.value} の目標がありません", f"no target for {kpi.value}"))
    owners = {t.owner for t in pact.kpi_targets}
    if pact.kpi_targets and not owners & set(view.departments_with(frozenset({Role.MARKETING}))):
        problems.append(Said("マーケティング側の部門が責任を持つKPIがありません", "no KPI is owned by marketing"))
    if pact.kpi_targets and not owners & set(view.departments_with(SALES_ROLES)):
        problems.append(Said("営業側の部門が責任を持つKPIがありません", "no KPI is owned by sales"))
    if not problems:
        return ItemResult(item, title, Status.PASS, tuple(evidence), None)
    step = Said(
        "合意書の kpi_targets: に `{kpi: mql_count, target: 300, per: quarter, owner: marketing}` や "
        "`{kpi: mql_to_sql_rate, target: 0.3, per: quarter, owner: inside_sales}` のように、両部門が責任を持つ"
        "目標を書いて提案・承認する (docs/pact.md#kpi_targets)",
        "write targets both departments own under kpi_targets:, such as `{kpi: mql_count, target: 300, per: "
        "quarter, owner: marketing}` and `{kpi: mql_to_sql_rate, target: 0.3, per: quarter, owner: inside_sales}`, "
        "and sign the pact (docs/pact.md#kpi_targets)",
    )
    return _fail(item, title, problems, evidence, step)


def _fresh(view: _View, at: datetime) -> bool:
    calendar = view.calendar
    return calendar.business_days(calendar.local_day(at), calendar.local_day(view.s.now)) <= FRESH_BUSINESS_DAYS


def visibility(view: _View) -> ItemResult:
    title = Said("MA/SFAでリード状況が可視化されている", "Lead status is visible from the MA/SFA")
    item = "visibility"
    s = view.s
    sides = {
        Side.MARKETING: Said("マーケ側 (リード・行動)", "marketing side (leads, activities)"),
        Side.SALES: Said("営業側 (ステージ・担当・接触)", "sales side (stages, owners, contacts)"),
    }
    via = {"events": Said("イベント", "events"), "import": Said("インポート", "import")}
    evidence: list[Said] = []
    newest: dict[Side, datetime] = {}
    for side, label in sides.items():
        feeds = sorted((f for f in s.feeds if f.side is side), key=lambda f: f.last_at, reverse=True)
        if feeds:
            newest[side] = feeds[0].last_at
        listed = [(f, view.day(f.last_at)) for f in feeds]
        evidence.append(
            Said(
                f"{label.ja}: "
                + (", ".join(f"{f.source} ({via[f.via].ja}) 最終 {d}、{f.rows:,}件" for f, d in listed) or "なし"),
                f"{label.en}: "
                + (", ".join(f"{f.source} ({via[f.via].en}) last {d}, {f.rows:,} rows" for f, d in listed) or "none"),
            )
        )
    step = Said(
        "MAとSFAの両方のデータを定期的に取り込む: `leadpact import FILE --format …`、Webhook (`leadpact serve`)、"
        "または `leadpact ingest` (docs/imports.md, docs/webhooks.md)",
        "feed both the MA and the SFA regularly: `leadpact import FILE --format …`, webhooks (`leadpact serve`) or "
        "`leadpact ingest` (docs/imports.md, docs/webhooks.md)",
    )
    if not newest:
        problem = Said("MA/SFAからのデータがまだ届いていません", "no data has arrived from an MA or SFA yet")
        return _fail(item, title, [problem], evidence, step)
    stale: list[Said] = []
    for side, label in sides.items():
        if side not in newest:
            stale.append(Said(f"{label.ja}のデータが届いたことがありません", f"no {label.en} data has ever arrived"))
        elif not _fresh(view, newest[side]):
            day = view.day(newest[side])
            stale.append(
                Said(
                    f"{label.ja}のデータが{FRESH_BUSINESS_DAYS}営業日以上届いていません (最新 {day})",
                    f"no {label.en} data for more than {FRESH_BUSINESS_DAYS} business days (the newest {day})",
                )
            )
    if len(stale) == len(sides):
        return _fail(item, title, stale, evidence, step)
    return _result(item, title, evidence, stale, step)


def _last_review(view: _View) -> tuple[datetime, Said] | None:
    """The newest sign of a review: a version proposed or approved (at or before now)."""
    found: list[tuple[datetime, Said]] = []
    for record in view.s.versions:
        found.append(
            (
                record.proposed_at,
                Said(
                    f"v{record.version} の提案 ({record.proposed_by})",
                    f"v{record.version} proposed by {record.proposed_by}",
                ),
            )
        )
        found.extend(
            (a.at, Said(f"v{record.version} の承認 ({a.user})", f"v{record.version} approved by {a.user}"))
            for a in record.approvals
        )
    found = [f for f in found if f[0] <= view.s.now]
    return max(found, key=lambda f: f[0]) if found else None


_CYCLE: Final = {
    ReviewCycle.MONTHLY: Said("毎月", "monthly"),
    ReviewCycle.QUARTERLY: Said("四半期ごと", "quarterly"),
    ReviewCycle.SEMIANNUAL: Said("半期ごと", "every six months"),
    ReviewCycle.ANNUAL: Said("毎年", "annually"),
}

_RESIGN = Said(
    "合意書を見直し、変更がなくてもコメント (例: `# 2026-10 レビュー: 変更なし`) を加えた版を "
    "`leadpact pact propose` で提案して全部門が承認する: レビューの記録になります",
    "review the pact and sign it again, with a comment such as `# 2026-10 review: no change` if nothing changes "
    "(`leadpact pact propose`, then every department approves): that records the review",
)


def regular_review(view: _View) -> ItemResult:
    title = Said("定期レビュー(月次・四半期)の仕組みがある", "Regular reviews (monthly or quarterly) take place")
    item = "regular_review"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    cycle = view.pact.review_cycle
    evidence = [Said(f"見直しサイクル: {_CYCLE[cycle].ja}", f"review cycle: {_CYCLE[cycle].en}")]
    last = _last_review(view)
    if last is not None:
        at, what = last
        evidence.append(Said(f"最後のレビュー: {view.day(at)} {what.ja}", f"last review: {what.en} on {view.day(at)}"))
    if cycle not in (ReviewCycle.MONTHLY, ReviewCycle.QUARTERLY):
        problem = Said(
            f"見直しが{_CYCLE[cycle].ja}です: 月次または四半期の定期レビューになっていません",
            f"the pact is reviewed {_CYCLE[cycle].en}: not monthly or quarterly",
        )
        step = Said(
            "合意書に review_cycle: quarterly (または monthly) を書いて提案・承認する",
            "write review_cycle: quarterly (or monthly) in the pact and sign it",
        )
        return _fail(item, title, [problem], evidence, step)
    if last is None:  # everything was signed after the instant the checklist is asked about
        problem = Said(
            f"{view.day(view.s.now)} までにレビューの記録がありません", f"no review by {view.day(view.s.now)}"
        )
        return ItemResult(item, title, Status.PARTIAL, (problem, *evidence), _RESIGN)
    due = shift_months(last[0], CYCLE_MONTHS[cycle], view.zone)
    if view.is_past(due):
        problem = Said(
            f"{_CYCLE[cycle].ja}のレビューの期限 {view.day(due)} を過ぎています",
            f"the {_CYCLE[cycle].en} review was due by {view.day(due)}",
        )
        return ItemResult(item, title, Status.PARTIAL, (problem, *evidence), _RESIGN)
    evidence.append(Said(f"次のレビュー期限: {view.day(due)}", f"next review due by {view.day(due)}"))
    return ItemResult(item, title, Status.PASS, tuple(evidence), None)


def review_cycle(view: _View) -> ItemResult:
    title = Said("MQL/SQL定義の見直しサイクルが決まっている", "The MQL/SQL definition review cycle is decided")
    item = "review_cycle"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    record, cycle = view.active, view.pact.review_cycle
    activated = record.activated_at or record.proposed_at
    evidence = [
        Said(
            f"v{record.version} の見直しサイクル: {_CYCLE[cycle].ja} (有効化 {view.day(activated)})",
            f"v{record.version} is reviewed {_CYCLE[cycle].en} (active since {view.day(activated)})",
        )
    ]
    if not view.s.review_cycle_written:
        problem = Said(
            f"合意書 v{record.version} に review_cycle が書かれていません (既定の四半期ごとで動いています)",
            f"pact v{record.version} does not say review_cycle (leadpact assumes quarterly)",
        )
        step = Said(
            "合意書に review_cycle: quarterly などを書き、提案・承認する (docs/pact.md#review_cycle)",
            "write review_cycle: (e.g. quarterly) in the pact and sign it (docs/pact.md#review_cycle)",
        )
        return _fail(item, title, [problem], evidence, step)
    due = shift_months(activated, CYCLE_MONTHS[cycle], view.zone)
    if view.is_past(due):
        problem = Said(
            f"v{record.version} の見直し期限 {view.day(due)} を過ぎています",
            f"v{record.version} was due for review on {view.day(due)}",
        )
        return ItemResult(item, title, Status.PARTIAL, (problem, *evidence), _RESIGN)
    evidence.append(Said(f"次の見直し期限: {view.day(due)}", f"next review due by {view.day(due)}"))
    return ItemResult(item, title, Status.PASS, tuple(evidence), None)


def responsibilities_shared(view: _View) -> ItemResult:
    title = Said("責任範囲が関係者全員に共有されている", "Responsibilities are shared with everyone involved")
    item = "responsibilities_shared"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    record, pact = view.active, view.pact
    active = [m for m in view.s.members if m.is_active]
    if not active:
        problem = Said("有効なユーザーがいません", "no active user")
        step = Said(
            "`leadpact user add NAME --department DEPT --email ADDRESS` で関係者を登録する",
            "add everyone involved with `leadpact user add NAME --department DEPT --email ADDRESS`",
        )
        return _fail(item, title, [problem], [], step)
    ids = [d.id for d in pact.departments]
    signed = {a.department for a in record.approvals}
    reachable = {d: [m for m in active if m.department == d and m.email] for d in ids}
    evidence = [
        Said(
            f"v{record.version} の部門: "
            + "、".join(
                f"{view.dept(d).ja} (承認{'済' if d in signed else 'なし'}、連絡先のあるメンバー {len(reachable[d])}名)"
                for d in ids
            ),
            f"departments of v{record.version}: "
            + ", ".join(
                f"{view.dept(d).en} ({'approved' if d in signed else 'did not approve'}, "
                f"{len(reachable[d])} members with an e-mail)"
                for d in ids
            ),
        ),
        Said(f"有効なユーザー {len(active)}名", f"{len(active)} active users"),
    ]
    problems: list[Said] = []
    steps: list[Said] = []
    unsigned = [d for d in ids if d not in signed]
    if unsigned:
        names = [view.dept(d) for d in unsigned]
        problems.append(
            Said(
                f"{'、'.join(n.ja for n in names)}は v{record.version} を承認していません",
                f"{', '.join(n.en for n in names)} did not approve v{record.version}",
            )
        )
        steps.append(
            Said(
                f"合意書の approvers に {', '.join(unsigned)} を加えて提案し、全部門が承認する",
                f"add {', '.join(unsigned)} to the approvers, propose the pact and have every department approve it",
            )
        )
    unreachable = [d for d in ids if not reachable[d]]
    if unreachable:
        names = [view.dept(d) for d in unreachable]
        problems.append(
            Said(
                f"{'、'.join(n.ja for n in names)}に連絡先 (メール) のある有効なメンバーがいません",
                f"{', '.join(n.en for n in names)} has no active member with an e-mail address",
            )
        )
        steps.append(
            Said(
                "`leadpact user add NAME --department DEPT --email ADDRESS` で連絡先のあるメンバーを加える",
                "add a member with an e-mail address: `leadpact user add NAME --department DEPT --email ADDRESS`",
            )
        )
    outside = [m for m in active if pact.department(m.department) is None]
    if outside:
        shown = ", ".join(f"{m.name} ({m.department})" for m in outside[:5]) + (" …" if len(outside) > 5 else "")
        problems.append(
            Said(
                f"v{record.version} のどの部門にも属さないユーザー {len(outside)}名: {shown}",
                f"{len(outside)} users belong to no department of v{record.version}: {shown}",
            )
        )
        steps.append(
            Said(
                "その部門を合意書の departments に加えるか、`leadpact user deactivate NAME` で外す",
                "add their department to the pact's departments, or `leadpact user deactivate NAME`",
            )
        )
    return _result(item, title, evidence, problems, _joined(steps))


def _has_code(view: _View, active: Pact, returned: Returned) -> bool:
    """Whether the return names a reason code of the pact version it was made under (else the active one)."""
    if returned.reason is None:
        return False
    pact = next((v.pact for v in view.s.versions if v.version == returned.pact_version), active)
    return pact.reason(_reason_kind(returned.to_stage), returned.reason) is not None


def _reason_kind(to_stage: str) -> ReasonKind:
    return "recycle" if to_stage == "recycled" else "disqualify"


def feedback_loop(view: _View) -> ItemResult:
    title = Said("フィードバックループ(営業→マーケへの情報還元)がある", "Sales feeds back to marketing")
    item = "feedback_loop"
    if view.active is None or view.pact is None:
        return view.no_active_pact(item, title)
    pact, s = view.pact, view.s
    sales = set(view.departments_with(SALES_ROLES))
    returns = [r for r in s.returns if r.department in sales and r.to_stage in RETURN_STAGES]
    total = sum(r.count for r in returns)
    coded = sum(r.count for r in returns if _has_code(view, pact, r))
    since = view.day(s.since)
    reasons: Counter[tuple[ReasonKind, str]] = Counter()
    for r in returns:
        if _has_code(view, pact, r):
            assert r.reason is not None
            reasons[(_reason_kind(r.to_stage), r.reason)] += r.count

    def label(kind: ReasonKind, code: str) -> Said:
        found = pact.reason(kind, code)
        return Said(found.label, found.label_en or found.label) if found else Said(code, code)

    top = reasons.most_common(5)
    evidence = [
        Said(
            f"{since} 以降に営業が差し戻したリード {total:,}件 (リサイクル・失格)、うち理由コード付き {coded:,}件",
            f"since {since} sales returned {total:,} leads (recycled or disqualified), {coded:,} with a reason code",
        )
    ]
    if top:
        evidence.append(
            Said(
                "理由: " + "、".join(f"{label(k, c).ja} {n:,}" for (k, c), n in top),
                "reasons: " + ", ".join(f"{label(k, c).en} {n:,}" for (k, c), n in top),
            )
        )
    step = Said(
        "IS/FSがリードをリサイクル・失格にするとき、合意書の理由コード (reason_codes) とメモを付けて記録する: "
        "`leadpact lead recycle|reject LEAD --reason CODE --note … --by NAME`、または stage_change の reason "
        "(docs/feedback.md)。マーケは `leadpact feedback` で理由を流入元別に確認する",
        "have inside and field sales record every recycle and disqualification with a reason code from the pact's "
        "reason_codes and a note: `leadpact lead recycle|reject LEAD --reason CODE --note … --by NAME`, or the "
        "reason of a stage_change (docs/feedback.md); marketing reads them by source with `leadpact feedback`",
    )
    if not coded:
        problem = Said(
            f"{since} 以降、理由コード付きの差し戻しがありません: 営業からマーケへの還元が記録されていません",
            f"no return with a reason code since {since}: nothing flows back from sales to marketing",
        )
        return _fail(item, title, [problem], evidence, step)
    problems = []
    if coded < total:
        problems.append(
            Said(
                f"{total - coded:,}件の差し戻しに合意書の理由コードがありません",
                f"{total - coded:,} returns carry no reason code of the pact",
            )
        )
    return _result(item, title, evidence, problems, step)


RULES: Final[Sequence[Rule]] = (
    mql_definition,
    sql_definition,
    scoring,
    mql_handoff,
    sql_handoff,
    neglect_detection,
    shared_kpis,
    visibility,
    regular_review,
    review_cycle,
    responsibilities_shared,
    feedback_loop,
)
