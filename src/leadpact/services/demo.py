"""`leadpact demo`: a deterministic, realistic half year of marketing and sales, run through the real system.

The demo company sells a B2B SaaS product in Japan. Its marketing runs web forms,
seminars, exhibitions, referrals and ads; four inside sales reps with very different
response habits work the MQLs; three field sales reps take the SQLs. The example
pact is proposed and signed by the three department heads, then every event goes
through `ingest` exactly as an MA/SFA feed would: nothing here writes a table.

Two phases, because sales can only react to MQLs the system itself declared:
1. leads and their marketing activities (the system scores them and makes MQLs);
2. for each lead→mql ledger entry, the sales side after that instant: handoff,
   first contact, BANT, SQL, opportunity, won/lost, recycle and disqualify.

Everything random comes from one `random.Random(seed)`, every instant is fixed (the
events' own times and a `FixedClock` for when they were recorded), so the same seed
gives the same store, byte for byte in the ledger.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path
from time import perf_counter  # wall time for the report only; never used for data
from typing import Any

import holidays
from sqlalchemy import Engine

from leadpact.adapters.db.store import Store
from leadpact.adapters.events import LineError, ParsedLine, parse_line
from leadpact.adapters.pact_yaml import read_pact_file
from leadpact.domain.clock import FixedClock
from leadpact.domain.errors import DomainError
from leadpact.domain.ledger import EntryKind, LedgerEntry
from leadpact.domain.pact import Pact
from leadpact.services.ingest import IngestReport, Rejection, ingest
from leadpact.services.pacts import approve_pact, propose_pact
from leadpact.services.users import add_user

DEFAULT_SEED = 20260401
DEFAULT_LEADS = 5_000
EXAMPLE_PACT = Path(__file__).resolve().parents[3] / "examples" / "pact.yaml"

JST = timezone(timedelta(hours=9), "JST")
START = datetime(2026, 4, 1, tzinfo=JST)
END = datetime(2026, 9, 30, 23, 59, 59, tzinfo=JST)
SETUP_AT = datetime(2026, 3, 19, 10, 0, tzinfo=JST)  # people are added before the pact is written
PROPOSED_AT = datetime(2026, 3, 23, 10, 0, tzinfo=JST)
PROCESSED_AT = datetime(2026, 10, 1, 9, 0, tzinfo=JST)  # when the half year's feeds are applied
SITE = "https://www.example.co.jp"
INGEST_BATCH = 5_000

# --- the people ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rep:
    """A sales rep and their habits: how long they usually take, and how often they never act."""

    name: str
    email: str
    median_hours: float  # business hours to first touch, median
    neglect: float  # share of leads they never touch


MARKETING_HEAD = "佐藤 美咲"
MARKETING_OPS = "高橋 健太"
MARKETING_NURTURE = "伊藤 さくら"
IS_HEAD = "小林 誠"
FS_HEAD = "加藤 拓也"
BUSINESS_DAY = 9.0  # business hours per day (09:00–18:00)
APPROVALS = (
    (datetime(2026, 3, 24, 11, 0, tzinfo=JST), IS_HEAD),
    (datetime(2026, 3, 24, 16, 30, tzinfo=JST), FS_HEAD),
    (datetime(2026, 3, 25, 9, 30, tzinfo=JST), MARKETING_HEAD),  # the pact takes effect with the last signature
)

INSIDE_SALES = (
    Rep("鈴木 花子", "hanako.suzuki@example.co.jp", median_hours=2.0, neglect=0.0),
    Rep("渡辺 大輔", "daisuke.watanabe@example.co.jp", median_hours=1 * BUSINESS_DAY, neglect=0.03),
    Rep("山本 直樹", "naoki.yamamoto@example.co.jp", median_hours=4 * BUSINESS_DAY, neglect=0.15),
    Rep("中村 優子", "yuko.nakamura@example.co.jp", median_hours=8 * BUSINESS_DAY, neglect=0.35),
)
FIELD_SALES = (
    Rep(FS_HEAD, "takuya.kato@example.co.jp", median_hours=2 * BUSINESS_DAY, neglect=0.0),
    Rep("吉田 亮", "ryo.yoshida@example.co.jp", median_hours=3 * BUSINESS_DAY, neglect=0.02),
    Rep("山田 恵", "megumi.yamada@example.co.jp", median_hours=6 * BUSINESS_DAY, neglect=0.10),
)
# (name, department, e-mail, manager)
PEOPLE: tuple[tuple[str, str, str, bool], ...] = (
    (MARKETING_HEAD, "marketing", "misaki.sato@example.co.jp", True),
    (MARKETING_OPS, "marketing", "kenta.takahashi@example.co.jp", False),
    (MARKETING_NURTURE, "marketing", "sakura.ito@example.co.jp", False),
    (IS_HEAD, "inside_sales", "makoto.kobayashi@example.co.jp", True),
    *((r.name, "inside_sales", r.email, False) for r in INSIDE_SALES),
    *((r.name, "field_sales", r.email, r.name == FS_HEAD) for r in FIELD_SALES),
)


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Words such as `東洋:toyo` as (kanji, romaji) pairs, so the name tables stay readable at a glance."""
    return tuple((kanji, roman) for kanji, _, roman in (word.partition(":") for word in text.split()))


# --- the market --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Company:
    name: str | None
    domain: str | None
    industry: str
    employees: int | None
    prefecture: str
    competitor: bool = False


PREFIXES = _pairs(
    "東洋:toyo 日本:nihon 大和:yamato 富士:fuji 北斗:hokuto 三和:sanwa 中央:chuo 東邦:toho "
    "関東:kanto 日進:nisshin 青葉:aoba 朝日:asahi 明治:meiji 昭和:showa 新光:shinko 双葉:futaba "
    "光陽:koyo 瑞穂:mizuho 千代田:chiyoda 大同:daido 協和:kyowa 共栄:kyoei 太平:taihei 平和:heiwa "
    "信和:shinwa 三栄:sanei 日栄:nichiei 東和:towa 西日本:nishinihon 北陸:hokuriku 湘南:shonan 武蔵野:musashino "
    "浪速:naniwa 名港:meiko 博多:hakata 若葉:wakaba 高砂:takasago 飛鳥:asuka 葵:aoi 清流:seiryu "
    "栄光:eiko 光和:kowa 泉:izumi 丸和:maruwa 新星:shinsei 晴海:harumi 常盤:tokiwa 紀州:kishu "
    "東海:tokai 山城:yamashiro"
)

# industry -> (share of leads, company-name cores, employee-count buckets with weights)
Buckets = tuple[tuple[int, int, float], ...]
_SMALL: Buckets = ((5, 49, 0.35), (50, 99, 0.25), (100, 299, 0.22), (300, 999, 0.12), (1000, 5000, 0.06))
_MID: Buckets = ((5, 49, 0.2), (50, 99, 0.2), (100, 299, 0.27), (300, 999, 0.2), (1000, 8000, 0.13))
INDUSTRIES: dict[str, tuple[float, tuple[tuple[str, str], ...], Buckets]] = {
    "製造業": (0.28, _pairs("精機:seiki 化成:kasei 電機:denki 工業:kogyo 製作所:mfg 金属:kinzoku 電子:denshi"), _MID),
    "情報通信業": (
        0.20,
        _pairs("システム:system ソフト:soft 情報:joho テクノロジー:tech データ:data デジタル:digital"),
        _MID,
    ),
    "卸売業": (0.10, _pairs("商事:shoji 物産:bussan 産業:sangyo 通商:tsusho 商会:shokai"), _SMALL),
    "小売業": (0.09, _pairs("ストア:store リテール:retail マート:mart 書店:shoten"), _SMALL),
    "建設業": (0.08, _pairs("建設:kensetsu 工務店:komuten 設備:setsubi ハウス:house"), _SMALL),
    "金融業": (0.05, _pairs("証券:shoken ファイナンス:finance リース:lease"), _MID),
    "サービス業": (0.11, _pairs("サービス:service コンサルティング:consulting 企画:kikaku"), _SMALL),
    "医療・福祉": (0.05, _pairs("メディカル:medical ケアサービス:care"), _SMALL),
    "不動産業": (0.04, _pairs("不動産:fudosan 地所:jisho エステート:estate"), _SMALL),
}
TARGET_INDUSTRIES = frozenset({"製造業", "情報通信業", "卸売業"})

# Vendors of competing products sign up to watch the pricing page (the pact gives them -100).
COMPETITORS = (
    Company("株式会社マーケティングクラウド", "mktcloud.co.jp", "情報通信業", 320, "東京都", competitor=True),
    Company("セールスリンク株式会社", "saleslink.co.jp", "情報通信業", 150, "東京都", competitor=True),
    Company("株式会社リードナビ", "leadnavi.co.jp", "情報通信業", 80, "大阪府", competitor=True),
)

SURNAMES = _pairs(
    "佐藤:sato 鈴木:suzuki 高橋:takahashi 田中:tanaka 伊藤:ito 渡辺:watanabe 山本:yamamoto 中村:nakamura "
    "小林:kobayashi 加藤:kato 吉田:yoshida 山田:yamada 佐々木:sasaki 山口:yamaguchi 松本:matsumoto 井上:inoue "
    "木村:kimura 林:hayashi 斎藤:saito 清水:shimizu 山崎:yamazaki 森:mori 池田:ikeda 橋本:hashimoto "
    "阿部:abe 石川:ishikawa 山下:yamashita 中島:nakajima 石井:ishii 小川:ogawa 前田:maeda 岡田:okada "
    "長谷川:hasegawa 藤田:fujita 後藤:goto 近藤:kondo 村上:murakami 遠藤:endo 青木:aoki 坂本:sakamoto"
)
GIVEN_NAMES = _pairs(
    "翔太:shota 大輔:daisuke 健太:kenta 拓也:takuya 直樹:naoki 誠:makoto 亮:ryo 浩:hiroshi "
    "隆:takashi 修:osamu 大樹:daiki 和也:kazuya 陽介:yosuke 智也:tomoya 美咲:misaki 優子:yuko "
    "恵:megumi さくら:sakura 陽子:yoko 真由美:mayumi 彩:aya 愛:ai 千尋:chihiro 奈々:nana "
    "麻衣:mai 由美:yumi 香織:kaori 裕子:hiroko 美穂:miho 健一:kenichi"
)
FREE_MAIL = ("gmail.com", "yahoo.co.jp", "outlook.jp", "icloud.com", "hotmail.co.jp")
PREFECTURES = (
    ("東京都", 0.34),
    ("大阪府", 0.12),
    ("神奈川県", 0.08),
    ("愛知県", 0.08),
    ("埼玉県", 0.05),
    ("千葉県", 0.04),
    ("福岡県", 0.05),
    ("兵庫県", 0.04),
    ("北海道", 0.03),
    ("京都府", 0.03),
    ("静岡県", 0.03),
    ("広島県", 0.03),
    ("宮城県", 0.02),
    ("茨城県", 0.02),
    ("新潟県", 0.02),
    ("長野県", 0.02),
)
WEST = frozenset({"大阪府", "兵庫県", "京都府", "広島県", "福岡県"})
DEPARTMENTS = ("営業部", "情報システム部", "経営企画部", "マーケティング部", "製造部", "総務部", "購買部", "DX推進室")
# rank -> (weight, is a decision maker the pact's title rule recognises)
RANKS: tuple[tuple[str, float], ...] = (
    ("担当", 0.30),
    ("主任", 0.10),
    ("係長", 0.08),
    ("リーダー", 0.05),
    ("マネージャー", 0.05),
    ("課長", 0.16),
    ("部長", 0.12),
    ("本部長", 0.04),
    ("取締役", 0.03),
    ("代表取締役", 0.02),
    ("", 0.05),
)

SOURCES = ("web_form", "seminar", "exhibition", "referral", "ad")
SOURCE_SHARE = (0.34, 0.15, 0.17, 0.08, 0.26)
# log-normal mean of the number of activities per lead (sigma 1.0: a heavy tail of keen browsers)
ACTIVITY_MU = {"web_form": 2.45, "seminar": 2.4, "exhibition": 2.3, "referral": 1.4, "ad": 2.65}

SEMINARS = (
    (date(2026, 4, 23), "2026-04 営業DX入門セミナー"),
    (date(2026, 5, 21), "2026-05 MQL設計ウェビナー"),
    (date(2026, 6, 18), "2026-06 製造業のデジタル営業セミナー"),
    (date(2026, 7, 16), "2026-07 インサイドセールス立ち上げ講座"),
    (date(2026, 8, 27), "2026-08 MA×SFA連携ウェビナー"),
    (date(2026, 9, 17), "2026-09 営業・マーケ連携 事例セミナー"),
)
EXHIBITIONS = (
    (date(2026, 5, 13), 3, "2026春 DX・IT展示会"),
    (date(2026, 7, 8), 3, "2026夏 ものづくり展示会"),
    (date(2026, 9, 9), 3, "2026秋 営業・マーケティング展"),
)
WEB_CAMPAIGNS = ("資料DL_製品概要", "資料DL_導入事例集", "ホワイトペーパー_MQL定義ガイド", "お役立ち資料_営業KPI設計")
AD_CAMPAIGNS = ("リスティング広告_リード管理", "SNS広告_ホワイトペーパー", "ディスプレイ広告_リターゲティング")
REFERRAL_CAMPAIGNS = ("パートナー紹介", "顧客紹介")
ASSETS = ("製品概要資料", "導入事例集", "MQL定義ガイド", "料金プラン資料", "営業KPI設計ワークブック")
PAGES = (
    "/",
    "/product",
    "/product/scoring",
    "/product/sla",
    "/product/ledger",
    "/case-studies",
    "/case-studies/manufacturing",
    "/case-studies/it",
    "/blog/mql-definition",
    "/blog/inside-sales-kpi",
    "/blog/lead-neglect",
    "/company",
    "/security",
    "/seminar",
    "/download",
)
PRICING_PAGES = ("/pricing", "/pricing/enterprise", "/pricing?plan=standard")
LOST_NOTES = ("価格で他社に決定", "競合製品を採用", "社内稟議が通らず", "導入時期を来期に延期", "現行ツールを継続")


# --- business time -----------------------------------------------------------------------------


@cache
def _holidays() -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=[2026, 2027]).keys())


def is_workday(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays()


def business_add(start: datetime, hours: float) -> datetime:
    """`start` plus `hours` of working time (09:00–18:00 JST on Japanese working days)."""
    at = start.astimezone(JST)
    remaining = timedelta(hours=max(hours, 0.0))
    while True:
        day = at.date()
        opens = datetime.combine(day, time(9), JST)
        closes = datetime.combine(day, time(18), JST)
        if not is_workday(day) or at >= closes:
            at = datetime.combine(day + timedelta(days=1), time(9), JST)
            continue
        at = max(at, opens)
        if remaining <= closes - at:
            return (at + remaining).replace(microsecond=0)
        remaining -= closes - at
        at = datetime.combine(day + timedelta(days=1), time(9), JST)


def _moment(rng: random.Random, day: date, office: float = 0.85) -> datetime:
    """A realistic instant on `day`: mostly office hours on working days, some evenings and weekends."""
    if not is_workday(day) and rng.random() < office:
        while not is_workday(day):
            day += timedelta(days=1)
    if rng.random() < office:
        minutes = rng.randint(9 * 60, 18 * 60 - 1)
    else:
        # after work far more often than before it
        minutes = rng.randint(18 * 60, 23 * 60 + 30) if rng.random() < 0.8 else rng.randint(6 * 60 + 30, 8 * 60 + 59)
    return datetime.combine(day, time(minutes // 60, minutes % 60, rng.randint(0, 59)), JST)


def _weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


# --- companies and people ----------------------------------------------------------------------


@dataclass
class Profile:
    """One generated lead: who they are and how they behave (the system only sees what the feeds say)."""

    key: str  # the MA system's id
    email: str
    name: str
    company: Company
    title: str | None
    source: str
    campaign: str
    created: datetime
    free_mail: bool = False
    student: bool = False
    interest: float = 0.5  # hidden: how keen they are, 0..1
    asked_at: datetime | None = None  # when they first asked for a consultation on their own

    @property
    def decision_maker(self) -> bool:
        return any(rank in (self.title or "") for rank in ("部長", "課長", "取締役"))

    def attributes(self, badge: bool = False) -> dict[str, Any]:
        """What the MA sends; a badge scan at an exhibition carries no head count and no title."""
        c = self.company
        attributes: dict[str, Any] = {
            "name": self.name,
            "company": c.name,
            "industry": c.industry,
            "employees": None if badge else c.employees,
            "title": None if badge else self.title,
            "prefecture": c.prefecture,
            "source": self.source,
            "campaign": self.campaign,
            "is_competitor": True if c.competitor else None,
        }
        return {k: v for k, v in attributes.items() if v is not None}


def _employees(rng: random.Random, buckets: Buckets) -> int:
    low, high, _ = rng.choices(buckets, weights=[w for *_, w in buckets])[0]
    raw = math.exp(rng.uniform(math.log(low), math.log(high)))
    step = 1 if raw < 50 else 10 if raw < 1000 else 100
    return max(low, int(round(raw / step) * step))


def _companies(rng: random.Random, count: int) -> list[Company]:
    names = list(INDUSTRIES)
    shares = [INDUSTRIES[n][0] for n in names]
    seen: set[str] = set()
    found: list[Company] = []
    for _ in range(count * 20):  # bounded: the name space is finite, a huge --leads reuses companies
        if len(found) >= count:
            break
        industry = rng.choices(names, weights=shares)[0]
        _, cores, buckets = INDUSTRIES[industry]
        prefix, prefix_roman = rng.choice(PREFIXES)
        core, core_roman = rng.choice(cores)
        domain = f"{prefix_roman}-{core_roman}.co.jp"
        if domain in seen:
            continue
        seen.add(domain)
        employees = _employees(rng, buckets)
        form = rng.random()
        if employees < 30 and form < 0.15:
            name = f"有限会社{prefix}{core}"
        elif form < 0.55:
            name = f"株式会社{prefix}{core}"
        else:
            name = f"{prefix}{core}株式会社"
        found.append(Company(name, domain, industry, employees, _weighted(rng, PREFECTURES)))
    return found


class _People:
    """Person names and unique e-mail addresses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def make(self, domain: str | None) -> tuple[str, str]:
        rng = self.rng
        surname, surname_roman = rng.choice(SURNAMES)
        given, given_roman = rng.choice(GIVEN_NAMES)
        if domain is None:
            local = f"{given_roman}{surname_roman}{rng.randint(1, 99)}"
            domain = rng.choice(FREE_MAIL)
        else:
            shapes = (
                f"{given_roman}.{surname_roman}",
                f"{surname_roman}-{given_roman}",
                f"{given_roman[0]}.{surname_roman}",
            )
            local = rng.choice(shapes)
        email, n = f"{local}@{domain}", 1
        while email in self.taken:
            n += 1
            email = f"{local}{n}@{domain}"
        self.taken.add(email)
        return f"{surname} {given}", email


def _title(rng: random.Random, senior_bias: float) -> str | None:
    ranks = [(r, w * (1 + senior_bias) if r in ("課長", "部長", "本部長", "取締役") else w) for r, w in RANKS]
    rank = _weighted(rng, ranks)
    if not rank:
        return None  # the form did not ask
    if rank in ("取締役", "代表取締役") or rng.random() < 0.3:
        return rank
    return f"{rng.choice(DEPARTMENTS)} {rank}"


def _created(rng: random.Random, source: str) -> tuple[datetime, str]:
    """When the lead first appeared, and through which campaign."""
    if source == "seminar":
        day, name = rng.choice(SEMINARS)
        registered = day - timedelta(days=rng.randint(2, 21))
        return _moment(rng, max(registered, START.date())), name
    if source == "exhibition":
        first, days, name = rng.choice(EXHIBITIONS)
        day = first + timedelta(days=rng.randrange(days))
        minutes = rng.randint(10 * 60, 17 * 60 - 1)
        return datetime.combine(day, time(minutes // 60, minutes % 60, rng.randint(0, 59)), JST), name
    # marketing spend grows over the half year, so later days are a little more likely
    offset = int((END - START).days * rng.random() ** 0.8)
    day = START.date() + timedelta(days=offset)
    campaigns = {"web_form": WEB_CAMPAIGNS, "ad": AD_CAMPAIGNS, "referral": REFERRAL_CAMPAIGNS}[source]
    return _moment(rng, day, 0.65 if source == "ad" else 0.85), rng.choice(campaigns)


SENIORITY = {"referral": 1.5, "seminar": 0.5, "exhibition": 0.3, "ad": -0.4}
FREE_MAIL_SHARE = {"ad": 0.14, "web_form": 0.07}


def _profiles(rng: random.Random, count: int) -> list[Profile]:
    companies = _companies(rng, max(10, count // 2))
    # large companies send many leads (several divisions, many people): Zipf-like weights by size
    companies.sort(key=lambda c: (-(c.employees or 0), c.domain or ""))
    weights = [1.0 / (i + 1) ** 0.5 for i in range(len(companies))]
    strong = [c for c in companies if c.industry in TARGET_INDUSTRIES and (c.employees or 0) >= 100] or companies
    people = _People(rng)
    profiles: list[Profile] = []
    for n in range(count):
        source = rng.choices(SOURCES, weights=SOURCE_SHARE)[0]
        created, campaign = _created(rng, source)
        roll = rng.random()
        free_mail = student = False
        title: str | None
        if source in ("ad", "web_form") and roll < 0.015:
            company = rng.choice(COMPETITORS)
            name, email = people.make(company.domain)
            title = _title(rng, 0.0)
        elif source == "ad" and roll < 0.05:
            # students researching a report: free mail, no company, out of the target by any measure
            free_mail = student = True
            company = Company(None, None, "教育・学習支援業", None, _weighted(rng, PREFECTURES))
            name, email = people.make(None)
            title = "学生"
        else:
            company = rng.choice(strong) if source == "referral" else rng.choices(companies, weights=weights)[0]
            free_mail = rng.random() < FREE_MAIL_SHARE.get(source, 0.02)
            name, email = people.make(None if free_mail else company.domain)
            title = _title(rng, SENIORITY.get(source, 0.0))
        interest = min(1.0, rng.betavariate(2, 5) + (0.25 if source == "referral" else 0.0))
        profiles.append(
            Profile(
                key=f"MA-{n + 1:06d}",
                email=email,
                name=name,
                company=company,
                title=title,
                source=source,
                campaign=campaign,
                created=created,
                free_mail=free_mail,
                student=student,
                interest=interest,
            )
        )
    return profiles


# --- events ------------------------------------------------------------------------------------


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    body: dict[str, Any] = field(compare=False)


class _Feed:
    """Canonical events in the making; ids count per source, so they are stable for a seed."""

    def __init__(self, ids: Counter[str] | None = None) -> None:
        self.events: list[_Event] = []
        self.ids: Counter[str] = ids if ids is not None else Counter()  # shared: ids stay unique per source

    def add(self, source: str, kind: str, at: datetime, lead: dict[str, str], **fields: Any) -> datetime:
        self.ids[source] += 1
        at = at.replace(microsecond=0)
        body = {
            "type": kind,
            "id": f"{source}-{self.ids[source]:07d}",
            "source": source,
            "at": at.isoformat(),
            "lead": lead,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.events.append(_Event(at, len(self.events), body))
        return at

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e.body["type"] == kind)

    def lines(self) -> Iterator[ParsedLine | LineError]:
        """The events in time order (ties in the order made), as the exact JSON lines a feed file holds."""
        for number, event in enumerate(sorted(self.events), start=1):
            parsed = parse_line(number, json.dumps(event.body, ensure_ascii=False, separators=(",", ":")).encode())
            assert parsed is not None
            yield parsed


def _page(rng: random.Random, pricing: float) -> str:
    return SITE + (rng.choice(PRICING_PAGES) if rng.random() < pricing else rng.choice(PAGES))


def _seminar_end(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(15, 30), JST) + timedelta(minutes=rng.randint(0, 20))


def _marketing(rng: random.Random, p: Profile, feed: _Feed) -> None:
    """The lead's record and everything they did on the marketing side over the half year."""
    lead = {"email": p.email}
    feed.add(
        "ma",
        "lead_upsert",
        p.created,
        {**lead, "system": "ma", "id": p.key},
        attributes=p.attributes(badge=p.source == "exhibition"),
    )
    pending: list[tuple[datetime, str, dict[str, Any]]] = []

    def act(at: datetime, kind: str, **properties: Any) -> None:
        if p.created <= at <= END:
            pending.append((at.replace(microsecond=0), kind, properties))

    pricing = 0.03 + 0.25 * p.interest**2 + (0.4 if p.company.competitor else 0.0)
    start = p.created
    # how the lead arrived
    if p.source == "seminar":
        act(start, "seminar_registered", seminar=p.campaign)
        if rng.random() < 0.72:
            day = next(d for d, name in SEMINARS if name == p.campaign)
            act(_seminar_end(rng, day), "seminar_attended", seminar=p.campaign, duration_min=rng.randint(35, 90))
    elif p.source == "exhibition":
        act(start, "booth_visit", exhibition=p.campaign)
        # the thank-you mail two working days later links the booth material
        thanks = _moment(rng, (start + timedelta(days=2)).date())
        if rng.random() < 0.65:
            act(thanks, "email_open", campaign=f"{p.campaign} ご来場御礼")
            if rng.random() < 0.6:
                clicked = thanks + timedelta(seconds=rng.randint(10, 600))
                act(clicked, "email_click", campaign=f"{p.campaign} ご来場御礼", url=SITE + "/download")
                if rng.random() < 0.7:
                    act(clicked + timedelta(seconds=rng.randint(30, 180)), "document_download", asset="展示会資料")
    elif p.source == "referral":
        if rng.random() < 0.7:
            act(start + timedelta(hours=rng.randint(1, 72)), "document_download", asset="導入事例集")
        if rng.random() < 0.25:
            act(
                start + timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 600)),
                "consultation_request",
                form="個別相談",
            )
    else:
        landing = SITE + ("/lp/lead-management?utm_source=ads&utm_medium=cpc" if p.source == "ad" else "/download")
        at = start
        for i in range(rng.randint(1, 4)):
            act(at, "page_view", url=landing if i == 0 else _page(rng, pricing))
            at += timedelta(seconds=rng.randint(20, 90))
        act(at, "document_download", asset=rng.choice(ASSETS), campaign=p.campaign)

    # the rest of the half year: newsletters, sessions of browsing, now and then a download
    target = max(1, round(rng.lognormvariate(ACTIVITY_MU[p.source] + p.interest - 0.3, 1.0)))
    lifetime = max(7.0, rng.expovariate(1 / (30 + 90 * p.interest)))
    span = max(min((END - start).total_seconds(), lifetime * 86_400), 3_600.0)
    office = 0.7 if p.source == "ad" else 0.85
    asked = False
    for _ in range(target * 3):  # bounded: sessions drawn after the end of September are dropped
        if len(pending) >= target:
            break
        at = _moment(rng, (start + timedelta(seconds=span * rng.random() ** 1.4)).date() + timedelta(days=1), office)
        roll = rng.random()
        if roll < 0.3:
            issue = f"メルマガ {at:%Y-%m}号"
            act(at, "email_open", campaign=issue)
            if rng.random() >= 0.45:
                continue
            at += timedelta(seconds=rng.randint(5, 300))
            act(at, "email_click", campaign=issue, url=_page(rng, pricing))
        for _ in range(1 + min(int(rng.expovariate(1 / 2.5)), 25)):
            at += timedelta(seconds=rng.randint(15, 240))
            act(at, "page_view", url=_page(rng, pricing))
        if roll > 0.88 and rng.random() < 0.25 + 0.5 * p.interest:
            at += timedelta(seconds=rng.randint(30, 300))
            act(at, "document_download", asset=rng.choice(ASSETS))
        if roll > 0.985 and p.interest > 0.45 and not asked:
            asked = True
            act(at + timedelta(seconds=rng.randint(60, 600)), "consultation_request", form="個別相談")
    # seminars later in the lead's life
    for day, name in SEMINARS:
        if name == p.campaign or day <= (start + timedelta(days=3)).date():
            continue
        if rng.random() < 0.03 + 0.2 * p.interest:
            registered = max(start + timedelta(hours=1), _moment(rng, day - timedelta(days=rng.randint(2, 14))))
            act(registered, "seminar_registered", seminar=name)
            if rng.random() < 0.7:
                act(_seminar_end(rng, day), "seminar_attended", seminar=name, duration_min=rng.randint(30, 90))
    pending.sort(key=lambda item: item[0])
    # a few unsubscribe from the newsletter; no e-mail activity after that
    if len(pending) > 3 and rng.random() < 0.035:
        cut = pending[rng.randrange(len(pending) // 2, len(pending))][0]
        pending = [e for e in pending if not (e[0] > cut and e[1].startswith("email_"))]
        pending.append((cut + timedelta(seconds=30), "unsubscribed", {}))
        pending.sort(key=lambda item: item[0])
    # a badge scan lacks head count and title: the first download form fills them in, at that instant
    filled = p.source != "exhibition"
    for at, kind, properties in pending:
        feed.add("ma", "activity", at, lead, activity=kind, properties=properties)
        if kind == "consultation_request" and p.asked_at is None:
            p.asked_at = at
        if not filled and kind == "document_download":
            filled = True
            feed.add("ma", "lead_upsert", at, lead, attributes={"employees": p.company.employees, "title": p.title})


# --- the sales side ----------------------------------------------------------------------------

RECYCLE_REASONS = {
    # ad leads are often early researchers without money; the feedback loop should show it
    "ad": (("no_budget", 0.45), ("info_gathering", 0.35), ("bad_timing", 0.20)),
    "default": (("no_budget", 0.15), ("info_gathering", 0.45), ("bad_timing", 0.40)),
}
SOURCE_FIT = {"referral": 0.2, "seminar": 0.08, "web_form": 0.02, "exhibition": 0.0, "ad": -0.15}


class _Sales:
    """The sales side's events for the MQLs the system declared, per rep habit."""

    def __init__(self, rng: random.Random, feed: _Feed) -> None:
        self.rng = rng
        self.feed = feed

    def _add(self, kind: str, at: datetime, p: Profile, **fields: Any) -> datetime | None:
        """Record an event unless it falls after the demo's end; None tells the caller to stop there."""
        if at > END:
            return None
        return self.feed.add("sfa", kind, at, {"email": p.email}, **fields)

    def _move(
        self, p: Profile, at: datetime, to: str, by: str, reason: str | None = None, note: str | None = None
    ) -> datetime | None:
        return self._add("stage_change", at, p, to=to, by=by, reason=reason, note=note)

    def follow_up(self, p: Profile, mql_at: datetime, rep: Rep) -> None:
        rng = self.rng
        # marketing ops hands MQLs over during office hours; a backlog after holidays takes days
        handoff = rng.uniform(0.2, 3.0) if rng.random() < 0.9 else rng.uniform(9.0, 30.0)
        assigned = self._add("assignment", business_add(mql_at, handoff), p, to=rep.name, by=MARKETING_OPS)
        if assigned is None:
            return
        if p.company.competitor:
            # the pact's -100 is points, not a veto: a keen enough competitor still scores 80, and IS throws it out
            self._move(p, business_add(assigned, rng.uniform(0.5, 9)), "disqualified", rep.name, "competitor")
            return
        if rng.random() < rep.neglect:
            return  # never touched: the neglect the clocks exist to catch
        took = rng.lognormvariate(math.log(rep.median_hours), 0.6)
        first = business_add(assigned, took)
        # the longer a lead waits, the less likely anyone picks up the phone
        reach = 0.15 + 0.8 * 0.5 ** ((handoff + took) / BUSINESS_DAY / 4)
        if rng.random() >= reach:
            tried = self._add("contact_logged", first, p, by=rep.name, channel="phone", note="不在・留守電")
            again = tried and self._add(
                "contact_logged",
                business_add(tried, rng.uniform(9, 27)),
                p,
                by=rep.name,
                channel="email",
                note="フォローメール送付",
            )
            if again:
                self._move(p, business_add(again, rng.uniform(27, 72)), "recycled", rep.name, "no_response")
            return
        talked = self._add("contact_logged", first, p, by=rep.name, channel="phone", note="初回架電: 課題ヒアリング")
        if talked is None:
            return
        if rng.random() < 0.03 + (0.05 if p.free_mail else 0.0):
            reason = "student_or_personal" if p.free_mail else rng.choice(("duplicate", "out_of_target"))
            self._move(p, business_add(talked, rng.uniform(0.2, 4)), "disqualified", rep.name, reason)
            return
        fit = 0.5 + 0.15 * p.decision_maker + 0.1 * ((p.company.employees or 0) >= 300)
        fit += SOURCE_FIT[p.source] + 0.2 * (p.interest - 0.3)
        if rng.random() >= fit:
            reason = _weighted(rng, RECYCLE_REASONS.get(p.source, RECYCLE_REASONS["default"]))
            self._move(p, business_add(talked, rng.uniform(0.5, 18)), "recycled", rep.name, reason)
            return
        accepted = self._move(p, business_add(talked, rng.uniform(0.1, 2)), "sal", rep.name, note="IS受入")
        if accepted is not None:
            self.qualify(p, accepted, rep)

    def qualify(self, p: Profile, accepted: datetime, rep: Rep) -> None:
        """SAL to SQL: a hearing call, BANT, and a consultation or quote request."""
        rng = self.rng
        # only a request made by now counts: the system checks the SQL gate against what it has seen,
        # and phase 1 already holds the lead's whole half year
        acted = p.asked_at is not None and p.asked_at <= accepted
        if not acted and rng.random() < 0.7:
            booked = business_add(accepted, rng.uniform(0.5, 8))
            # the lead books the consultation on the web form, so it arrives from the MA
            if booked <= END:
                self.feed.add(
                    "ma",
                    "activity",
                    booked,
                    {"email": p.email},
                    activity="consultation_request",
                    properties={"form": "個別相談", "referred_by": rep.name},
                )
                acted = True
        hearing = self._add(
            "contact_logged",
            business_add(accepted, rng.uniform(9, 54)),
            p,
            by=rep.name,
            channel="web_meeting",
            note="ヒアリング(BANT確認)",
        )
        if hearing is None:
            return
        answers = {
            "budget": rng.random() < (0.25 if p.source == "ad" else 0.5),
            "authority": rng.random() < (0.8 if p.decision_maker else 0.35),
            "need": rng.random() < 0.9,
            "timeline": rng.random() < 0.55,
        }
        access = rng.random() < (0.9 if answers["authority"] else 0.45)
        noted = self._add(
            "bant_update",
            hearing + timedelta(minutes=rng.randint(30, 90)),
            p,
            by=rep.name,
            facts={"decision_maker_access": access},
            **answers,
        )
        if noted is None:
            return
        if not acted and rng.random() < 0.3:
            plan = rng.choice(("standard", "enterprise"))
            quoted = self._add(
                "activity",
                business_add(noted, rng.uniform(3, 18)),
                p,
                activity="quote_request",
                properties={"plan": plan},
            )
            if quoted is None:
                return
            acted, noted = True, quoted
        # the rep moves to SQL only when the pact's SQL criteria hold, as the system will check
        if sum(answers.values()) >= 2 and acted and access:
            qualified = self._move(p, business_add(noted, rng.uniform(0.5, 6)), "sql", rep.name, note="SQL化")
            if qualified is not None:
                self.close(p, qualified, rep)
        elif rng.random() < 0.55:
            reason = (
                "no_budget"
                if not answers["budget"] and rng.random() < 0.5
                else rng.choice(("bad_timing", "info_gathering"))
            )
            self._move(p, business_add(noted, rng.uniform(27, 120)), "recycled", rep.name, reason)
        # otherwise the lead stays in SAL: still being worked at the end of September

    def close(self, p: Profile, qualified: datetime, rep: Rep) -> None:
        """Field sales: the meeting, the opportunity, the outcome."""
        rng = self.rng
        if (p.company.employees or 0) >= 1000:
            fs = FIELD_SALES[0]
        elif p.company.prefecture in WEST:
            fs = FIELD_SALES[2]
        else:
            fs = FIELD_SALES[1]
        handed = self._add(
            "assignment", business_add(qualified, rng.uniform(0.1, 2)), p, to=fs.name, by=rep.name, note="FSへ引き継ぎ"
        )
        if handed is None or rng.random() < fs.neglect:
            return
        met = self._add(
            "contact_logged",
            business_add(handed, rng.lognormvariate(math.log(fs.median_hours), 0.5)),
            p,
            by=fs.name,
            channel=rng.choice(("visit", "web_meeting")),
            note="初回商談",
        )
        if met is None:
            return
        roll = rng.random()
        if roll >= 0.8:
            if roll < 0.93:
                self._move(
                    p,
                    business_add(met, rng.uniform(18, 180)),
                    "recycled",
                    fs.name,
                    rng.choice(("bad_timing", "no_budget")),
                )
            else:
                self._move(p, business_add(met, rng.uniform(2, 27)), "disqualified", fs.name, "out_of_target")
            return
        opened = self._move(p, business_add(met, rng.uniform(0.5, 9)), "opportunity", fs.name, note="商談化")
        if opened is None:
            return
        closing = business_add(opened, rng.lognormvariate(math.log(20 * BUSINESS_DAY), 0.5))
        won = 0.25 + 0.2 * (p.source == "referral") + 0.05 * p.decision_maker - 0.1 * (p.source == "ad")
        if rng.random() < won:
            self._move(p, closing, "won", fs.name, note="受注")
            return
        lost = self._move(p, closing, "lost", fs.name, note=rng.choice(LOST_NOTES))
        if lost is not None and rng.random() < 0.3:
            # marketing takes lost deals back into nurture for a later budget year
            self._move(
                p,
                business_add(lost, rng.uniform(45, 180)),
                "recycled",
                MARKETING_NURTURE,
                "bad_timing",
                note="再ナーチャリング",
            )

    def clean_up(self, p: Profile) -> None:
        """Marketing disqualifies competitors and students before they ever reach sales."""
        reason = "competitor" if p.company.competitor else "student_or_personal"
        self._move(p, business_add(p.created, self.rng.uniform(9, 90)), "disqualified", MARKETING_NURTURE, reason)


# --- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: str
    leads: int
    mqls: int

    @property
    def rate(self) -> float:
        return self.mqls / self.leads if self.leads else 0.0


@dataclass(frozen=True, slots=True)
class ExplainedLead:
    """One lead told through its ledger: the entry that matters and the path around it."""

    role: str  # mql | recycled | won
    lead_id: int
    email: str
    company: str
    source: str
    campaign: str
    stage: str
    focus_seq: int
    focus: LedgerEntry
    path: tuple[tuple[int, LedgerEntry], ...]  # every transition of the lead, in order
    reason_label: str | None = None


@dataclass(frozen=True, slots=True)
class DemoSummary:
    seed: int
    leads: int
    activities: int
    events: int
    rejected: tuple[Rejection, ...]
    pact_version: int
    pact_name: str
    signatures: tuple[tuple[str, str, datetime], ...]  # (user, department, approved at)
    processed_at: datetime
    stage_counts: dict[str, int]
    sources: tuple[SourceRow, ...]
    examples: tuple[ExplainedLead, ...]
    ledger_entries: int
    ledger_intact: bool
    seconds: dict[str, float]  # wall time per phase; the only part that differs between runs


STAGE_ORDER = ("lead", "mql", "sal", "sql", "opportunity", "won", "lost", "recycled", "disqualified")


def _require_empty(engine: Engine) -> None:
    with Store(engine) as store:
        if store.users.all() or store.pacts.latest() is not None or store.leads.stage_counts():
            url = engine.url.render_as_string(hide_password=True)
            raise DomainError(
                f"the demo needs an empty store, and {url} already has data; "
                "run it on a fresh file, e.g. `leadpact --db sqlite:///demo.db demo`"
            )


def _sign_pact(engine: Engine, pact_file: Path) -> tuple[int, str]:
    """Everyone joins, marketing ops proposes the example pact, the three heads sign it."""
    for name, department, email, manager in PEOPLE:
        add_user(Store(engine), FixedClock(SETUP_AT), name, department, email, manager)
    document = read_pact_file(pact_file)
    proposed = propose_pact(Store(engine), FixedClock(PROPOSED_AT), document, MARKETING_OPS)
    for when, head in APPROVALS:
        approve_pact(Store(engine), FixedClock(when), proposed.version, head)
    return proposed.version, document.pact.name


def run_demo(
    engine: Engine,
    leads: int = DEFAULT_LEADS,
    seed: int = DEFAULT_SEED,
    pact_file: Path = EXAMPLE_PACT,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Build the half year for `leads` leads from `seed`, apply it through ingest, and summarise."""
    say = progress or (lambda _: None)
    if leads < 1:
        raise DomainError("the demo needs at least one lead")
    _require_empty(engine)
    seconds: dict[str, float] = {}
    started = perf_counter()
    rng = random.Random(seed)
    version, pact_name = _sign_pact(engine, pact_file)
    say(f"pact v{version} signed by marketing, inside sales and field sales")

    profiles = _profiles(rng, leads)
    feed = _Feed()
    for profile in profiles:
        _marketing(rng, profile, feed)
    seconds["generate"] = perf_counter() - started
    say(f"phase 1: {leads:,} leads and {feed.count('activity'):,} marketing activities")
    clock = FixedClock(PROCESSED_AT)
    mark = perf_counter()
    report = ingest(engine, clock, feed.lines(), batch_size=INGEST_BATCH)
    seconds["ingest marketing"] = perf_counter() - mark

    mark = perf_counter()
    by_email = {p.email: p for p in profiles}
    with Store(engine) as store:
        ids = store.leads.ids_by_email(by_email)
        mqls = store.ledger.transitions_into("mql")
    by_id = {lead_id: by_email[email] for email, lead_id in ids.items()}
    sales = _Sales(rng, _Feed(feed.ids))
    for k, row in enumerate(mqls):
        # round robin in the order the system declared the MQLs
        sales.follow_up(by_id[row.lead_id], row.at, INSIDE_SALES[k % len(INSIDE_SALES)])
    worked = {row.lead_id for row in mqls}
    for lead_id, profile in sorted(by_id.items()):  # in id order: the random draws must not follow a query's order
        if (profile.company.competitor or profile.student) and lead_id not in worked:
            sales.clean_up(profile)
    say(f"phase 2: {len(mqls):,} MQLs worked by sales ({len(sales.feed.events):,} events)")
    second = ingest(engine, clock, sales.feed.lines(), batch_size=INGEST_BATCH)
    seconds["sales"] = perf_counter() - mark

    mark = perf_counter()
    summary = _summarise(engine, seed, version, pact_name, by_id, [report, second], seconds)
    seconds["summary"] = perf_counter() - mark
    seconds["total"] = perf_counter() - started
    return summary


def _summarise(
    engine: Engine,
    seed: int,
    version: int,
    pact_name: str,
    profiles: dict[int, Profile],
    reports: list[IngestReport],
    seconds: dict[str, float],
) -> DemoSummary:
    with Store(engine) as store:
        counts = store.leads.stage_counts()
        stage_counts = {stage: counts.get(stage, 0) for stage in STAGE_ORDER}
        activities = store.activities.count()
        pact = store.pacts.get(version)
        assert pact is not None
        mql_rows = store.ledger.transitions_into("mql")
        mql_leads = {row.lead_id for row in mql_rows}
        # by the source the store holds, not the generator's memory: the summary reads what the system knows
        source_of = {i: str(lead.attributes.get("source")) for i, lead in store.leads.get_many(profiles).items()}
        leads_by_source = Counter(source_of.values())
        mqls_by_source = Counter(source_of[i] for i in mql_leads)
        sources = tuple(SourceRow(s, leads_by_source[s], mqls_by_source[s]) for s in SOURCES)
        # three different people: the won deal and the recycled lead first, the MQL story from someone else
        won = _won_example(store, profiles)
        recycled = _recycled_example(store, profiles, pact.pact)
        taken = {e.lead_id for e in (won, recycled) if e is not None}
        mql = _mql_example(store, profiles, [row for row in mql_rows if row.lead_id not in taken])
        examples = [e for e in (mql, recycled, won) if e is not None]
        entries, broken = store.ledger.verify()
        signatures = tuple((a.user, a.department, a.approved_at) for a in store.pacts.approvals(version))
    return DemoSummary(
        seed=seed,
        leads=len(profiles),
        activities=activities,
        events=sum(r.created for r in reports),
        rejected=tuple(r for report in reports for r in report.rejected),
        pact_version=version,
        pact_name=pact_name,
        signatures=signatures,
        processed_at=PROCESSED_AT,
        stage_counts=stage_counts,
        sources=sources,
        examples=tuple(examples),
        ledger_entries=entries,
        ledger_intact=broken is None,
        seconds=seconds,
    )


def _explained(
    store: Store, profiles: dict[int, Profile], role: str, lead_id: int, seq: int, reason_label: str | None = None
) -> ExplainedLead:
    entries = store.ledger.of_lead(lead_id)
    focus = next(entry for s, entry in entries if s == seq)
    lead = store.leads.get(lead_id)
    assert lead is not None
    p = profiles[lead_id]
    return ExplainedLead(
        role=role,
        lead_id=lead_id,
        email=p.email,
        company=p.company.name or "—",
        source=p.source,
        campaign=p.campaign,
        stage=lead.stage.value,
        focus_seq=seq,
        focus=focus,
        path=tuple((s, e) for s, e in entries if e.kind is EntryKind.TRANSITION),
        reason_label=reason_label,
    )


def _mql_example(store: Store, profiles: dict[int, Profile], rows: Sequence[Any]) -> ExplainedLead | None:
    """The earliest MQL whose score drew on the most rules and no penalty: the richest plain explanation."""
    best: tuple[int, int, int] | None = None
    for row in rows:
        entry = next((e for s, e in store.ledger.of_lead(row.lead_id) if s == row.seq), None)
        score = entry.evidence.get("score") if entry else None
        points = [r.get("points", 0) for r in score.get("rules", [])] if isinstance(score, dict) else []
        if any(x < 0 for x in points):
            continue
        contributing = sum(1 for x in points if x > 0)
        if best is None or contributing > best[0]:
            best = (contributing, row.lead_id, row.seq)
        if contributing >= 7:
            break
    return _explained(store, profiles, "mql", best[1], best[2]) if best else None


def _recycled_example(store: Store, profiles: dict[int, Profile], pact: Pact) -> ExplainedLead | None:
    """The first ad lead sales recycled for lack of budget (any recycled lead if there is none)."""
    rows = store.ledger.transitions_into("recycled")
    chosen: tuple[int, int, str] | None = None
    for row in rows:
        entry = next((e for s, e in store.ledger.of_lead(row.lead_id) if s == row.seq), None)
        if entry is None or entry.reason is None:
            continue
        if chosen is None:
            chosen = (row.lead_id, row.seq, entry.reason)
        if entry.reason == "no_budget" and profiles[row.lead_id].source == "ad" and entry.from_stage == "sal":
            chosen = (row.lead_id, row.seq, entry.reason)
            break
    if chosen is None:
        return None
    code = pact.reason("recycle", chosen[2])
    return _explained(store, profiles, "recycled", chosen[0], chosen[1], code.label if code else None)


def _won_example(store: Store, profiles: dict[int, Profile]) -> ExplainedLead | None:
    """The first deal won in the half year."""
    rows = store.ledger.transitions_into("won")
    return _explained(store, profiles, "won", rows[0].lead_id, rows[0].seq) if rows else None
