"""The rule book: each process keeps the active rules' terms compiled into an `engine.RuleBook`
(scope index), with the stamp it was built under: the version of the one `promotion_book_stamps`
row, which every create, edit and status change bumps in its own transaction. The till reads the
stamp in the same statement as the live counters (`service.live_columns`), so a quote never uses
a book older than the counters it reads, at no extra query. Per till, the candidate rules are
prepared for the engine once per book."""
from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from ..extensions import db
from ..orgs.models import Organisation
from . import engine
from .engine import Purchase, RuleBook, RuleTerms
from .models import PromotionBookStamp, PromotionRule, PromotionRuleVersion

_EXTENSION = "promotions_book"


def stamp_columns():
    """SQL: the stamp's (version, nonce), for the till's statement."""
    def one(column):
        return select(column).where(PromotionBookStamp.id == 1).scalar_subquery()
    return (func.coalesce(one(PromotionBookStamp.version), 0), func.coalesce(one(PromotionBookStamp.nonce), ""))


def bump_book_stamp() -> None:
    """Move the stamp (in the caller's transaction): every process rebuilds its book."""
    t = PromotionBookStamp.__table__
    db.session.execute(insert(t).values(id=1, version=1, nonce=secrets.token_hex(16))
                       .on_conflict_do_update(index_elements=[t.c.id], set_={"version": t.c.version + 1}))


class Book:
    """A compiled book, its stamp, and the candidates per till worked out from it."""
    __slots__ = ("stamp", "rules", "tills")

    def __init__(self, stamp: tuple, rules: RuleBook):
        self.stamp, self.rules, self.tills = stamp, rules, {}

    def till_rules(self, purchase: Purchase) -> engine.Prepared:
        """The candidate rules of a till (its merchant, store, category and union), prepared."""
        key = (purchase.merchant_id, purchase.store_id, purchase.merchant_category, purchase.merchant_org_path)
        found = self.tills.get(key)
        if found is None:
            found = engine.prepare(self.rules.candidates(
                merchant_id=purchase.merchant_id, store_id=purchase.store_id, category=purchase.merchant_category,
                merchant_org_path=purchase.merchant_org_path))
            if len(self.tills) > 20_000:
                self.tills.clear()
            self.tills[key] = found
        return found


def book_for(stamp: tuple) -> Book:
    """This process's book if it was built under `stamp` (read just now), else a new one. The
    rules are read after the stamp, so a new book is never older than its stamp; at worst newer,
    which the next stamp read corrects."""
    cached = current_app.extensions.get(_EXTENSION)
    if cached is not None and cached.stamp == tuple(stamp):
        return cached
    rows = db.session.execute(
        select(PromotionRule.id, PromotionRuleVersion.id, PromotionRuleVersion.name, Organisation.path,
               PromotionRuleVersion.terms)
        .join(PromotionRuleVersion, PromotionRuleVersion.id == PromotionRule.current_version_id)
        .join(Organisation, Organisation.id == PromotionRule.org_id)
        .where(PromotionRule.status == "active")).all()
    built = Book(tuple(stamp), RuleBook.build([RuleTerms.from_json(*r) for r in rows]))
    current_app.extensions[_EXTENSION] = built
    return built


def current_book() -> Book:
    """The book as of now (one small read of the stamp), for pages that list offers."""
    return book_for(tuple(db.session.execute(select(*stamp_columns())).one()))
