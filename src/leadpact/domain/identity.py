"""Identity resolution: when two records name one person, and what one person's lead looks like.

* **E-mail addresses** are compared in one normal form (`normalise_email`): NFKC (full-width
  ＠, letters and digits as Japanese forms send them), lower case, no white space or invisible
  format characters anywhere (a space is never part of an address), `mailto:` and a display
  name (`山田 太郎 <taro@…>`) dropped, and the `+tag` of the local part dropped where the
  store's `EmailPolicy` says so.
* **Companies** are keyed by their e-mail domain, unless it is a free-mail or carrier domain
  (`company_domain`), and by their normalised name (`normalise_company_name`): 株式会社, (株),
  ㈱, 有限会社, 合同会社, Inc., Co., Ltd., K.K., LLC… before or after the name, width, case,
  spaces and punctuation do not count.
* **One person** (`plan_identities`): every identifier one record names (its e-mail address,
  each system's id such as a HubSpot Record ID, a Salesforce Lead Id and the Contact Id it was
  converted into, a Marketo id) belongs to the same person, so leads known by any of them are
  one lead. Two leads an admin separated (an undone merge) are never joined automatically:
  the record naming both is refused instead. Names, companies or phone numbers alone never
  make two leads one.
* **The merged lead**: the older lead survives (`survivor_order`); the lifecycle state of the
  lead furthest along (`merged_state`) becomes the merged lead's, so no progress a rep made
  is lost, and ties keep the survivor's.

Must not import: sqlalchemy or anything doing IO.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Final

from leadpact.domain.lifecycle import Stage
from leadpact.domain.qualification import Bant
from leadpact.domain.scoring import AttributeValue

if TYPE_CHECKING:  # domain.lead imports the e-mail rules from here
    from leadpact.domain.lead import Lead

# --- e-mail addresses ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    """How far two addresses may differ and still be one: whether a `+tag` counts.

    `keep` (the default): `taro+news@example.co.jp` and `taro@example.co.jp` are two
    addresses, as RFC 5321 says. `strip`: the tag is dropped for every domain. `strip` with
    `domains`: only for those (e.g. gmail.com, where the tag is known to be a label).
    """

    strip_plus: bool = False
    domains: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> EmailPolicy:
        """`keep`, `strip` or `strip:gmail.com,googlemail.com`; a ValueError says what is wrong."""
        value = unicodedata.normalize("NFKC", text).strip().lower()
        if value == "keep":
            return cls()
        if value == "strip":
            return cls(strip_plus=True)
        if value.startswith("strip:"):
            domains = [d.strip() for d in value.removeprefix("strip:").split(",")]
            bad = [d for d in domains if not _DOMAIN.fullmatch(d)]
            if not domains or bad:
                raise ValueError(f"{bad[0] if bad else ''!r} is not a domain name; write e.g. strip:gmail.com")
            return cls(strip_plus=True, domains=frozenset(domains))
        raise ValueError(f"plus-addressing {text!r}: expected keep, strip, or strip:DOMAIN,DOMAIN")

    def __str__(self) -> str:
        if not self.strip_plus:
            return "keep"
        return "strip:" + ",".join(sorted(self.domains)) if self.domains else "strip"

    def strips(self, domain: str) -> bool:
        return self.strip_plus and (not self.domains or domain in self.domains)


KEEP: Final = EmailPolicy()
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")
_DISPLAY_NAME = re.compile(r"<([^<>]*)>\s*$")


def _invisible(char: str) -> bool:
    # white space, and format characters such as ZERO WIDTH SPACE and the BOM that pasted text carries
    return char.isspace() or unicodedata.category(char) == "Cf"


def normalise_email(raw: str, policy: EmailPolicy = KEEP) -> str:
    """The address as leadpact compares it (see the module docstring); normalising twice changes nothing."""
    if raw.isascii():  # most addresses: NFKC changes nothing, and only ASCII white space can hide in them
        text = raw
        if "<" in text and (found := _DISPLAY_NAME.search(text)) is not None:
            text = found.group(1)
        text = "".join(text.split()).lower()
    else:
        text = unicodedata.normalize("NFKC", raw)
        if (found := _DISPLAY_NAME.search(text)) is not None:
            text = found.group(1)
        text = unicodedata.normalize("NFKC", "".join(c for c in text if not _invisible(c)).lower())
    text = text.removeprefix("mailto:")
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    domain = domain.rstrip(".")
    if "+" in local and policy.strips(domain):
        tagless = local.split("+", 1)[0]
        local = tagless or local  # "+tag@…" alone has nothing left to keep
    return f"{local}@{domain}"


def is_plausible_email(email: str) -> bool:
    """One @, something before it, a dotted domain after it, no spaces."""
    local, _, domain = email.partition("@")
    return bool(local) and "." in domain and " " not in email and domain.count("@") == 0


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1] or None


# Addresses anyone can get: a domain of these says nothing about the person's company.
# Subdomains count too (carrier and ISP addresses such as …@xx.ocn.ne.jp).
FREE_MAIL_DOMAINS: Final = frozenset(
    {
        # international
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "outlook.com", "hotmail.com",
        "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "gmx.com", "mail.com", "zoho.com", "yandex.com", "qq.com", "163.com",
        "naver.com",
        # Japan: portals
        "yahoo.co.jp", "ymail.ne.jp", "outlook.jp", "hotmail.co.jp", "live.jp", "excite.co.jp",
        "goo.jp", "mail.goo.ne.jp", "infoseek.jp", "livedoor.com", "rakuten.jp",
        # Japan: carriers
        "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp",
        "ymobile.ne.jp", "rakumail.jp", "uqmobile.jp",
        # Japan: consumer ISPs
        "ocn.ne.jp", "nifty.com", "biglobe.ne.jp", "so-net.ne.jp", "plala.or.jp", "dion.ne.jp",
        "ybb.ne.jp", "eonet.ne.jp", "zaq.ne.jp", "jcom.home.ne.jp", "bb.excite.co.jp",
    }
)  # fmt: skip


def is_free_mail(domain: str) -> bool:
    """A free-mail, carrier or consumer ISP domain, or a subdomain of one."""
    while "." in domain:
        if domain in FREE_MAIL_DOMAINS:
            return True
        domain = domain.split(".", 1)[1]
    return False


def company_domain(email: str | None) -> str | None:
    """The domain that names the person's company, or None (no address, or a free-mail one)."""
    domain = email_domain(email)
    return None if domain is None or is_free_mail(domain) else domain


# --- company names ------------------------------------------------------------------------

# Legal forms, in their NFKC and lower-case form; ㈱ is (株) after NFKC.
_JA_FORMS: Final = (
    "株式会社", "(株)", "有限会社", "(有)", "合同会社", "(同)", "合資会社", "(資)", "合名会社", "(名)",
    "一般社団法人", "(一社)", "一般財団法人", "(一財)", "公益社団法人", "(公社)", "公益財団法人", "(公財)",
    "特定非営利活動法人", "npo法人", "医療法人", "学校法人", "社会福祉法人",
)  # fmt: skip
_EN_SUFFIX = re.compile(
    r"(?:^|[\s,])(?:co\.?,?\s*ltd\.?|company,?\s+limited|co\.|ltd\.?|limited|inc\.?|incorporated"
    r"|corp\.?|corporation|k\.\s?k\.?|kk|l\.l\.c\.?|llc|g\.k\.?|gk|y\.k\.?|plc|gmbh)$"
)
_EN_PREFIX = re.compile(r"^(?:k\.\s?k\.?|kk)\s+")


def normalise_company_name(raw: str | None) -> str | None:
    """The key two spellings of one company name share, or None when nothing but a legal form is left.

    株式会社サンプル精機, サンプル精機株式会社, ㈱サンプル精機 and サンプル精機（株） are one key, and
    so are Sample Seiki Co., Ltd., SAMPLE SEIKI INC. and Ｓａｍｐｌｅ Ｓｅｉｋｉ K.K.
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", raw).lower().strip()
    while True:
        before = text
        text = text.strip(" ,.・")
        for form in _JA_FORMS:
            text = text.removeprefix(form).removesuffix(form)
        text = _EN_SUFFIX.sub("", text)
        text = _EN_PREFIX.sub("", text)
        if text == before:
            break
    key = "".join(c for c in text if not (_invisible(c) or unicodedata.category(c).startswith(("P", "Z"))))
    return key or None


# --- one person -------------------------------------------------------------------------

EMAIL: Final = "@"  # the "system" of an e-mail identifier; no system slug can be "@"
Identifier = tuple[str, str]  # (EMAIL, address) or (system, that system's id)


def describe(identifier: Identifier) -> str:
    system, value = identifier
    return value if system == EMAIL else f"{system}:{value}"


@dataclass(frozen=True, slots=True)
class Record:
    """One event or import row: the identifiers it names, and whether it may create a lead."""

    identifiers: tuple[Identifier, ...]
    create: bool = True


@dataclass
class Person:
    """The stored leads (and at most one new lead) that a batch's records show to be one person."""

    leads: set[int] = field(default_factory=set)
    created_by: int | None = None  # the record that creates the lead, when no stored lead is known
    new_identifiers: list[Identifier] = field(default_factory=list)  # unknown to the store, first seen first
    bridges: list[int] = field(default_factory=list)  # records that joined stored leads into one


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one record resolved to: a person, nobody (an unknown lead it may not create), or a refusal."""

    person: int | None = None
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    outcomes: list[Outcome]
    persons: list[Person]


class _Components:
    """Union-find over identifiers and stored leads (ints)."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}
        self.leads: dict[Hashable, set[int]] = {}
        self.created: dict[Hashable, int] = {}

    def find(self, node: Hashable) -> Hashable:
        root = node
        while (up := self.parent.get(root, root)) != root:
            root = up
        while node != root:  # path compression
            self.parent[node], node = root, self.parent.get(node, node)
        return root

    def union(self, roots: Sequence[Hashable]) -> Hashable:
        root, *others = roots
        for other in others:
            self.parent[other] = root
            if other in self.leads:
                self.leads.setdefault(root, set()).update(self.leads.pop(other))
            if other in self.created:
                made = self.created.pop(other)
                self.created[root] = min(made, self.created.get(root, made))
        return root


def plan_identities(
    records: Sequence[Record],
    known: Mapping[Identifier, int],
    apart: Mapping[frozenset[int], int] | None = None,
) -> Plan:
    """Group records into persons, in record order (see the module docstring).

    `known` maps the identifiers the store already holds to their lead; `apart` maps each pair
    of leads an admin separated to the merge whose undo separated them. A record naming
    identifiers of two such leads is refused and links nothing; a record that names no known
    lead and may not create one (`create` false) resolves to nobody and links nothing. A new
    lead needed by one record and later found to be a stored lead is simply that stored lead.
    """
    apart = apart or {}
    parts = _Components()
    for identifier, lead in known.items():
        parts.parent[identifier] = lead
        parts.leads[lead] = {lead}
    roots_of: list[Hashable | None] = []
    refusals: dict[int, str] = {}
    bridges: list[tuple[int, Hashable]] = []
    find = parts.find
    for index, record in enumerate(records):
        identifiers = record.identifiers
        if not identifiers:
            roots_of.append(None)
            continue
        roots = [find(identifiers[0])] if len(identifiers) == 1 else list(dict.fromkeys(map(find, identifiers)))
        found = [group for root in roots if (group := parts.leads.get(root))]
        leads = found[0] if len(found) == 1 else {lead for group in found for lead in group}
        creates = any(root in parts.created for root in roots)
        if not leads and not creates and not record.create:
            roots_of.append(None)
            continue
        if len(found) > 1 and apart:
            kept = sorted((pair, merge) for pair in _pairs(leads) if (merge := apart.get(pair)) is not None)
            if kept:
                refusals[index] = _kept_apart(record, known, kept[0])
                roots_of.append(None)
                continue
        root = parts.union(roots) if len(roots) > 1 else roots[0]
        if not leads and not creates:
            parts.created[root] = index
        if len(found) > 1:
            bridges.append((index, root))
        roots_of.append(root)

    persons: dict[Hashable, Person] = {}
    numbers: dict[Hashable, int] = {}
    outcomes: list[Outcome] = []
    for index, root in enumerate(roots_of):
        if root is None:
            outcomes.append(Outcome(refused=refusals.get(index)))
            continue
        final = parts.find(root)
        if final not in persons:
            leads = parts.leads.get(final, set())
            persons[final] = Person(leads=set(leads), created_by=None if leads else parts.created.get(final))
            numbers[final] = len(numbers)
        outcomes.append(Outcome(person=numbers[final]))
    seen: set[Identifier] = set()
    for index, root in enumerate(roots_of):
        if root is None:
            continue
        person = persons[parts.find(root)]
        for identifier in records[index].identifiers:
            if identifier not in known and identifier not in seen:
                seen.add(identifier)
                person.new_identifiers.append(identifier)
    for index, root in bridges:
        persons[parts.find(root)].bridges.append(index)
    return Plan(outcomes, list(persons.values()))


def _pairs(leads: Iterable[int]) -> Iterator[frozenset[int]]:
    ordered = sorted(leads)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            yield frozenset((a, b))


def _kept_apart(record: Record, known: Mapping[Identifier, int], kept: tuple[frozenset[int], int]) -> str:
    pair, merge = kept
    named = [f"{describe(i)} is lead {known[i]}" for i in record.identifiers if known.get(i) in pair]
    return (
        f"{' and '.join(named)}, which were kept apart when merge {merge} was undone; "
        "correct the record in its source system, or merge them by hand with `leadpact identities merge`"
    )


# --- the merged lead --------------------------------------------------------------------

# How far along the lifecycle a stage is: the merged lead keeps the state of the lead furthest
# along. Back-to-nurture and disqualified count as not started: an open MQL of the same person
# on another record is further along than a duplicate disqualified for being one.
PROGRESS: Final[Mapping[Stage, int]] = {
    Stage.LEAD: 0,
    Stage.RECYCLED: 0,
    Stage.DISQUALIFIED: 0,
    Stage.MQL: 1,
    Stage.SAL: 2,
    Stage.SQL: 3,
    Stage.OPPORTUNITY: 4,
    Stage.LOST: 5,
    Stage.WON: 6,
}


def survivor_order(created: Mapping[int, datetime]) -> list[int]:
    """The leads oldest first (ties by id): the first survives a merge, keeping its id."""
    return sorted(created, key=lambda lead: (created[lead], lead))


@dataclass(frozen=True, slots=True)
class MergedState:
    lead: Lead  # the survivor as it becomes
    state_of: int  # the lead whose lifecycle state (stage, owner, BANT) the merged lead keeps
    owner_of: int | None  # the lead whose owner it keeps


def merged_state(leads: Sequence[Lead]) -> MergedState:
    """The survivor (`leads[0]`; the others oldest first) after absorbing the others.

    The lifecycle state (stage and since when, owner, BANT) is the one of the lead furthest
    along (`PROGRESS`; ties keep the older); with no owner there, the first owner found oldest
    first. BANT items confirmed on any record stay confirmed; facts of the state's lead win.
    Attributes: the older lead's value wins, the others fill the gaps. E-mail: the survivor's,
    or the first address found oldest first.
    """
    survivor = leads[0]
    ahead = max(leads, key=lambda lead: (PROGRESS[lead.stage], -leads.index(lead)))
    owner = ahead if ahead.owner is not None else next((lead for lead in leads if lead.owner is not None), None)
    facts: dict[str, bool] = {}
    attributes: dict[str, AttributeValue] = {}
    for lead in reversed(leads):
        facts.update(lead.bant.facts or {})
        attributes.update(lead.attributes)
    facts.update(ahead.bant.facts or {})
    confirmed = frozenset(item for lead in leads for item in lead.bant.confirmed)
    merged = replace(
        survivor,
        email=next((lead.email for lead in leads if lead.email), None),
        attributes=attributes,
        stage=ahead.stage,
        stage_changed_at=ahead.stage_changed_at,
        owner=owner.owner if owner is not None else None,
        bant=Bant(confirmed=confirmed, facts=facts),
    )
    return MergedState(merged, ahead.id, owner.id if owner is not None else None)
