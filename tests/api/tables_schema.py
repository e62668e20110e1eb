"""A test schema for the Tables API, created the same way on SQLite, PostgreSQL and MariaDB
through SQLAlchemy Core on the sync drivers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from tests.fixtures.servers import SqlDatabase

metadata = sa.MetaData()

authors = sa.Table(
    "authors", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
)
articles = sa.Table(
    "articles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("score", sa.Integer),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id", name="fk_articles_author")),
    sa.Column("published", sa.Boolean),
    sa.Column("created_on", sa.BigInteger),
    sa.Column("updated_on", sa.BigInteger),
)
memberships = sa.Table(
    "memberships", metadata,
    sa.Column("org", sa.String(50), primary_key=True),
    sa.Column("member", sa.String(50), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
)
notes = sa.Table(
    "notes", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("body", sa.Text),
)
log = sa.Table("log", metadata, sa.Column("msg", sa.String(100)))
odd = sa.Table(
    "Odd Table", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first name", sa.String(50)),
    sa.Column("Order", sa.Integer),
)

VIEW = "CREATE VIEW article_titles AS SELECT id, title FROM articles"


def sync_url(db: SqlDatabase) -> str:
    url = make_url(db.url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg",
              "mysql": "mysql+pymysql"}[db.engine]
    return url.set(drivername=driver).render_as_string(hide_password=False)


@contextmanager
def sync_engine(db: SqlDatabase) -> Iterator[Engine]:
    engine = sa.create_engine(sync_url(db))
    try:
        yield engine
    finally:
        engine.dispose()


def reset(db: SqlDatabase) -> None:
    """Drop and create the test schema, with a few rows."""
    with sync_engine(db) as engine, engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW IF EXISTS article_titles"))
        for name in ("extra_table",):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        metadata.drop_all(conn)
        metadata.create_all(conn)
        conn.execute(sa.text(VIEW))
        conn.execute(authors.insert(), [{"name": "Ada"}, {"name": "Grace"}])
        conn.execute(articles.insert(), [
            {"title": "Engines", "body": "about engines", "score": 10, "author_id": 1,
             "published": True, "created_on": 1, "updated_on": 1},
            {"title": "Compilers", "body": None, "score": 30, "author_id": 2,
             "published": False, "created_on": 2, "updated_on": 2},
            {"title": "Notes", "body": "misc", "score": None, "author_id": 1,
             "published": None, "created_on": 3, "updated_on": 3},
        ])
        conn.execute(memberships.insert(), [
            {"org": "acme", "member": "bob", "role": "owner"},
            {"org": "a,b", "member": "c\\d", "role": "odd"},
        ])
        conn.execute(log.insert(), [{"msg": "one"}, {"msg": "two"}])
        conn.execute(odd.insert(), [{"id": 1, "first name": "Zed", "Order": 2},
                                    {"id": 2, "first name": "Amy", "Order": 1}])


def count_rows(db: SqlDatabase, table: sa.Table) -> int:
    with sync_engine(db) as engine, engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

