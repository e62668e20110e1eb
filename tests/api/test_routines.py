"""Routines through the real app, on SQLite, PostgreSQL and MariaDB: migrations (run,
rollback, pretend, changed files, a failure mid-batch, concurrent runs), factories and
seeders, and every 4xx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from dbplane.routines.files import file_id
from tests.api.tables_schema import sync_engine
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.fixtures.servers import SqlDatabase

M1_UP = """
-- teams first; a ';' in a comment does not end anything
CREATE TABLE teams (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);
INSERT INTO teams (id, name) VALUES (1, 'red; and blue'), (2, 'it''s green');
"""
M1_DOWN = "DROP TABLE teams;"
M2_PY = '''
import sqlalchemy as sa


def upgrade(op):
    op.create_table(
        "players",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("email", sa.String(120), nullable=False, unique=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=True),
    )


def downgrade(op):
    op.drop_table("players")
'''
M3_UP = "CREATE TABLE roles (name VARCHAR(40) PRIMARY KEY, label VARCHAR(80));"
M3_DOWN = "DROP TABLE roles;"

FACTORY = """
table: players
count: 30
seed: 42
columns:
  name: name
  email: {faker: email, unique: true}
  score: {faker: random_int, min: 0, max: 100}
  role: {choice: [admin, user]}
  team_id: {ref: teams.id}
"""
SEEDER = """
table: roles
key: [name]
rows:
  - {name: admin, label: Administrator}
  - {name: user, label: User}
"""


@dataclass
class Project:
    root: Path
    client: httpx.AsyncClient
    db: SqlDatabase

    def write(self, rel: str, text: str) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return file_id(rel)

    def tables(self) -> set[str]:
        with sync_engine(self.db) as engine:
            return set(sa.inspect(engine).get_table_names())

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sync_engine(self.db) as engine, engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]


def _drop_all(db: SqlDatabase) -> None:
    with sync_engine(db) as engine, engine.begin() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)


@pytest.fixture
async def project(tmp_path: Path, sql_url: SqlDatabase) -> AsyncIterator[Project]:
    """The app with a project directory, and the engine's database (emptied) as ``db``."""
    _drop_all(sql_url)
    root = tmp_path / "project"
    root.mkdir()
    app = create_app(make_settings(tmp_path / "data", project_dir=root))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     timeout=60) as client:
            r = await client.post("/v1/databases", json={"resource_id": "db",
                                                         "url": sql_url.url})
            assert r.status_code == 201, r.text
            yield Project(root, client, sql_url)


def _base(p: Project) -> None:
    p.write("migrations/0001_teams.up.sql", M1_UP)
    p.write("migrations/0001_teams.down.sql", M1_DOWN)
    p.write("migrations/0002_players.py", M2_PY)


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == "200"
    return body


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


D = "/v1/databases/db"


async def test_run_rollback_and_run_again(project: Project) -> None:
    _base(project)
    body = _ok(await project.client.post(f"{D}/migrations/run"))
    assert body["message"] == "Migrations complete"
    assert [m["migration"] for m in body["applied"]] == ["0001_teams", "0002_players"]
    assert {"teams", "players", "dbplane_migrations"} <= project.tables()
    assert project.rows("SELECT name FROM teams ORDER BY id") == [("red; and blue",),
                                                                   ("it's green",)]
    again = _ok(await project.client.post(f"{D}/migrations/run", json={}))
    assert again["message"] == "Nothing to migrate" and again["applied"] == []

    # a second batch, then the list
    project.write("migrations/0003_roles.up.sql", M3_UP)
    project.write("migrations/0003_roles.down.sql", M3_DOWN)
    assert _ok(await project.client.post(f"{D}/migrations/run"))["batch"] == 2
    listed = (await project.client.get(f"{D}/migrations")).json()
    assert [(m["migration"], m["status"], m["batch"]) for m in listed["migrations"]] == [
        ("0001_teams", "applied", 1), ("0002_players", "applied", 1),
        ("0003_roles", "applied", 2)]
    assert all(len(m["checksum"]) == 64 and not m["changed"] for m in listed["migrations"])

    # rollback: the last batch, then two steps
    rolled = _ok(await project.client.post(f"{D}/migrations/rollback"))
    assert [m["migration"] for m in rolled["rolled_back"]] == ["0003_roles"]
    assert "roles" not in project.tables()
    rolled = _ok(await project.client.post(f"{D}/migrations/rollback", json={"steps": 2}))
    assert [m["migration"] for m in rolled["rolled_back"]] == ["0002_players", "0001_teams"]
    assert not {"teams", "players"} & project.tables()
    nothing = _ok(await project.client.post(f"{D}/migrations/rollback"))
    assert nothing["message"] == "Nothing to roll back"

    # and all again, in one batch
    body = _ok(await project.client.post(f"{D}/migrations/run"))
    assert len(body["applied"]) == 3 and body["batch"] == 1
    assert {"teams", "players", "roles"} <= project.tables()


async def test_pretend_changes_nothing_and_shows_the_sql(project: Project) -> None:
    _base(project)
    body = _ok(await project.client.post(f"{D}/migrations/run", json={"pretend": True}))
    assert body["pretend"] is True
    sql = {m["migration"]: m["sql"] for m in body["migrations"]}
    assert len(sql["0001_teams"]) == 2 and sql["0001_teams"][0].startswith("CREATE TABLE")
    assert any("CREATE TABLE players" in s for s in sql["0002_players"])
    assert "teams" not in project.tables() and "players" not in project.tables()
    listed = (await project.client.get(f"{D}/migrations")).json()
    assert listed["pending"] == 2


async def test_a_changed_applied_file_is_flagged_and_refused(project: Project) -> None:
    _base(project)
    _ok(await project.client.post(f"{D}/migrations/run"))
    project.write("migrations/0001_teams.up.sql", M1_UP + "\n-- edited\n")
    project.write("migrations/0003_roles.up.sql", M3_UP)
    listed = (await project.client.get(f"{D}/migrations")).json()
    assert listed["changed"] == ["0001_teams"]
    assert [m["changed"] for m in listed["migrations"]][:1] == [True]
    body = _problem(await project.client.post(f"{D}/migrations/run"), 409, "DBP-R301")
    assert body["migrations"] == ["0001_teams"]
    assert "roles" not in project.tables()
    body = _ok(await project.client.post(f"{D}/migrations/run",
                                         json={"allow_changed": True}))
    assert [m["migration"] for m in body["applied"]] == ["0003_roles"]


async def test_a_failing_migration_mid_batch(project: Project) -> None:
    _base(project)
    project.write("migrations/0003_broken.up.sql",
                  "CREATE TABLE half (id INTEGER PRIMARY KEY);\nSELECT * FROM no_such_table;")
    body = _problem(await project.client.post(f"{D}/migrations/run"), 422, "DBP-R202")
    assert body["migration"] == "0003_broken"
    assert "no_such_table" in body["statement"] and body["statement_index"] == 2
    ledger = project.rows("SELECT migration FROM dbplane_migrations ORDER BY migration") \
        if "dbplane_migrations" in project.tables() else []
    if project.db.engine == "mysql":
        # no transactional DDL: the error says what is left applied
        assert body["rolled_back"] is False
        assert body["left_applied"] == ["0001_teams", "0002_players"]
        assert body["partial_statements"][0].startswith("CREATE TABLE half")
        assert "MariaDB" in body["detail"] and "0002_players" in body["detail"]
        assert ledger == [("0001_teams",), ("0002_players",)]
    else:
        assert body["rolled_back"] is True
        assert not {"teams", "players", "half"} & project.tables()
        assert ledger == []


async def test_two_concurrent_runs_apply_a_batch_once(project: Project,
                                                      tmp_path: Path) -> None:
    """Two servers (two apps, two pools: as two replicas) run the same batch at once."""
    _base(project)
    project.write("migrations/0003_roles.up.sql", M3_UP)
    other = create_app(make_settings(tmp_path / "data2", project_dir=project.root))
    async with LifespanManager(other) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     timeout=60) as client2:
            r = await client2.post("/v1/databases", json={"resource_id": "db",
                                                          "url": project.db.url})
            assert r.status_code == 201, r.text
            first, second, third = await asyncio.gather(
                project.client.post(f"{D}/migrations/run"),
                client2.post(f"{D}/migrations/run"),
                project.client.post(f"{D}/migrations/run"))
    bodies = [_ok(first), _ok(second), _ok(third)]
    applied = sorted(len(b["applied"]) for b in bodies)
    assert applied == [0, 0, 3], bodies
    assert project.rows("SELECT COUNT(*) FROM dbplane_migrations") == [(3,)]
    assert project.rows("SELECT COUNT(*) FROM teams") == [(2,)]


async def test_a_failing_python_migration_and_sql_passed_as_written(
        project: Project) -> None:
    project.write("migrations/0001_text.up.sql",
                  "CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(80));\n"
                  "INSERT INTO notes (id, body) VALUES (1, '100% :sure? $1 \"q\"');")
    project.write("migrations/0002_bad.py",
                  "import sqlalchemy as sa\n\n\ndef upgrade(op):\n"
                  "    op.create_table('partial', sa.Column('id', sa.Integer, "
                  "primary_key=True))\n"
                  "    op.execute('SELECT * FROM nowhere_at_all')\n")
    body = _problem(await project.client.post(f"{D}/migrations/run"), 422, "DBP-R202")
    assert body["migration"] == "0002_bad" and "nowhere_at_all" in body["statement"]
    if project.db.engine == "mysql":
        assert body["left_applied"] == ["0001_text"]
        assert body["partial_statements"][0].lstrip().startswith("CREATE TABLE partial")
        assert project.rows("SELECT body FROM notes") == [('100% :sure? $1 "q"',)]
    else:
        assert body["rolled_back"] is True and "notes" not in project.tables()
    (project.root / "migrations/0002_bad.py").unlink()
    _ok(await project.client.post(f"{D}/migrations/run"))
    assert project.rows("SELECT body FROM notes") == [('100% :sure? $1 "q"',)]


async def test_factory_with_refs_and_a_seed_gives_the_same_rows(project: Project) -> None:
    _base(project)
    _ok(await project.client.post(f"{D}/migrations/run"))
    fid = project.write("factories/players.yaml", FACTORY)
    body = _ok(await project.client.post(f"{D}/factory/run", json={"file_id": fid}))
    assert body["message"] == "Factory created" and body["rows"] == 30
    q = "SELECT name, email, score, role, team_id FROM players ORDER BY id"
    first = project.rows(q)
    assert len(first) == 30 and {r[4] for r in first} <= {1, 2}
    assert {r[3] for r in first} <= {"admin", "user"} and len({r[1] for r in first}) == 30
    with sync_engine(project.db) as engine, engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM players"))
    # as a form field, as the seed's curl sends it
    r = await project.client.post(f"{D}/factory/run", data={"file_id": fid})
    assert _ok(r)["rows"] == 30
    assert project.rows(q) == first
    # the same seed again: the same unique emails, refused, and nothing written
    r = await project.client.post(f"{D}/factory/run", json={"file_id": fid, "count": 5})
    assert "players.email" in _problem(r, 409, "DBP-R401")["detail"] or \
        project.db.engine != "sqlite"
    assert project.rows("SELECT COUNT(*) FROM players") == [(30,)]
    # a Python factory: the same names as module variables, and functions of (fake, n)
    py_id = project.write("factories/more_players.py",
                          "table = 'players'\ncount = 3\ncolumns = {\n"
                          "    'name': lambda fake, n: f'p{n}',\n"
                          "    'email': lambda fake, n: f'p{n}@example.org',\n"
                          "    'team_id': {'ref': 'teams.id'},\n}\n")
    assert _ok(await project.client.post(f"{D}/factory/run",
                                         json={"file_id": py_id}))["rows"] == 3
    assert project.rows("SELECT email FROM players WHERE name = 'p2'") == [
        ("p2@example.org",)]


async def test_seeder_twice_with_upsert_adds_nothing(project: Project) -> None:
    project.write("migrations/0003_roles.up.sql", M3_UP)
    _ok(await project.client.post(f"{D}/migrations/run"))
    fid = project.write("seeders/roles.yaml", SEEDER)
    body = _ok(await project.client.post(f"{D}/seeder/run", json={"file_id": fid}))
    assert body["message"] == "Seeder executed" and body["inserted"] == 2
    project.write("seeders/roles.yaml", SEEDER.replace("label: User", "label: Member"))
    body = _ok(await project.client.post(f"{D}/seeder/run", data={"file_id": fid}))
    assert (body["inserted"], body["updated"]) == (0, 2)
    assert project.rows("SELECT name, label FROM roles ORDER BY name") == [
        ("admin", "Administrator"), ("user", "Member")]
    # CSV (key from its first line) and SQL seeders
    csv_id = project.write("seeders/0002_roles.csv",
                           "# key: name\nname,label\nuser,Plain user\nguest,\n")
    body = _ok(await project.client.post(f"{D}/seeder/run", json={"file_id": csv_id}))
    assert (body["inserted"], body["updated"]) == (1, 1)
    sql_id = project.write("seeders/extra.sql",
                           "INSERT INTO roles (name, label) VALUES ('x;y', 'semi');")
    _ok(await project.client.post(f"{D}/seeder/run", json={"file_id": sql_id}))
    assert project.rows("SELECT label FROM roles WHERE name = 'x;y'") == [("semi",)]


async def test_a_failing_row_rolls_the_whole_seeder_back(project: Project) -> None:
    project.write("migrations/0003_roles.up.sql", M3_UP)
    _ok(await project.client.post(f"{D}/migrations/run"))
    fid = project.write("seeders/dup.yaml", "table: roles\nrows:\n  - {name: a}\n"
                        "  - {name: b}\n  - {name: a}\n")
    body = _problem(await project.client.post(f"{D}/seeder/run", json={"file_id": fid}),
                    409, "DBP-R401")
    assert "nothing was written" in body["detail"]
    assert project.rows("SELECT COUNT(*) FROM roles") == [(0,)]


async def test_the_4xx(project: Project) -> None:
    _base(project)
    _ok(await project.client.post(f"{D}/migrations/run"))
    c = project.client
    mig_id = file_id("migrations/0001_teams.up.sql")
    bad = {
        "unknown_column": "table: players\ncolumns:\n  name: name\n  email: email\n"
                          "  nope: name\n",
        "unknown_provider": "table: players\ncolumns:\n  name: no_such_provider\n"
                            "  email: email\n",
        "missing": "table: players\ncolumns:\n  name: name\n",
        "no_table": "table: ghosts\ncolumns:\n  name: name\n",
        "broken": "table: [players\n",
        "empty_ref": "table: players\ncolumns:\n  name: name\n  email: email\n"
                     "  team_id: {ref: roles_x.id}\n",
    }
    ids = {k: project.write(f"factories/{k}.yaml", v) for k, v in bad.items()}
    cases = [
        ("unknown_column", 422, "DBP-R105", "nope"),
        ("unknown_provider", 422, "DBP-R106", "no_such_provider"),
        ("missing", 422, "DBP-R107", "email"),
        ("no_table", 422, "DBP-R104", "ghosts"),
        ("broken", 422, "DBP-R103", "YAML"),
        ("empty_ref", 422, "DBP-R104", "roles_x"),
    ]
    for name, status, code, words in cases:
        body = _problem(await c.post(f"{D}/factory/run", json={"file_id": ids[name]}),
                        status, code)
        assert words in body["detail"], body
    assert project.rows("SELECT COUNT(*) FROM players") == [(0,)]
    # a value the driver cannot send: 409, nothing written
    wrong = project.write("factories/wrong.yaml", "table: players\ncount: 3\ncolumns:\n"
                          "  name: name\n  email: email\n  score: {value: [1, 2]}\n")
    _problem(await c.post(f"{D}/factory/run", json={"file_id": wrong}), 409, "DBP-R401")
    assert project.rows("SELECT COUNT(*) FROM players") == [(0,)]
    # files: the broken one is listed with its error
    files = (await c.get("/v1/files", params={"kind": "factory"})).json()["files"]
    assert {f["file_id"]: f["error"] is not None for f in files}[ids["broken"]] is True
    assert all(f["kind"] == "factory" for f in files)
    _problem(await c.get("/v1/files", params={"kind": "nope"}), 422, "DBP-V100")
    _problem(await c.post(f"{D}/factory/run", json={"file_id": "nope"}), 404, "DBP-R101")
    _problem(await c.post(f"{D}/factory/run", json={"file_id": mig_id}), 422, "DBP-R102")
    _problem(await c.post(f"{D}/seeder/run", json={"file_id": ids["missing"]}), 422,
             "DBP-R102")
    _problem(await c.post(f"{D}/factory/run", json={}), 422, "DBP-V100")
    _problem(await c.post(f"{D}/factory/run", json={"file_id": ids["missing"],
                                                    "count": "x"}), 422, "DBP-V100")
    _problem(await c.post(f"{D}/migrations/rollback", json={"steps": 0}), 422, "DBP-V100")
    body = _problem(await c.post(f"{D}/factory/run", data={"file_id": "x", "nope": "1"}),
                    422, "DBP-V100")
    assert body["field"] == "nope"
    _problem(await c.post(f"{D}/seeder/run", data={"file_id": "x", "count": "1"}), 422,
             "DBP-V100")
    # a number past 64 bits is echoed as the value at fault, as its digits (was a 500:
    # the JSON encoder cannot write it)
    huge = "657761553468174358282240"
    body = _problem(await c.post(f"{D}/factory/run", data={"file_id": "x", "count": huge}),
                    422, "DBP-V100")
    assert body["value"] == huge, body
    _problem(await c.get("/v1/files", params={"knd": "factory"}), 400, "DBP-Q106")
    _problem(await c.post(f"{D}/migrations/run", content=b"{nope"), 400, "DBP-V101")
    _problem(await c.post("/v1/databases/ghost/migrations/run"), 404, "DBP-D101")
    # a rollback without a down file, and an applied migration whose file is gone
    project.write("migrations/0003_roles.up.sql", M3_UP)
    _ok(await c.post(f"{D}/migrations/run"))
    _problem(await c.post(f"{D}/migrations/rollback"), 422, "DBP-R201")
    (project.root / "migrations/0003_roles.up.sql").unlink()
    _problem(await c.post(f"{D}/migrations/rollback"), 409, "DBP-R303")
    listed = (await c.get(f"{D}/migrations")).json()["migrations"]
    assert listed[-1]["status"] == "missing"


async def test_the_seed_paths_act_on_the_default_database(project: Project,
                                                         redis_url: str) -> None:
    project.write("migrations/0003_roles.up.sql", M3_UP)
    # the seed's own curl for this path has no -d, so it sends a GET: it runs them too
    body = _ok(await project.client.get("/v1/database/migrations/run"))
    assert body["message"] == "Migrations complete" and body["database"] == "default"
    assert [m["migration"] for m in body["applied"]] == ["0003_roles"]
    body = _ok(await project.client.post("/v1/database/migrations/run"))
    assert body["message"] == "Nothing to migrate"
    _problem(await project.client.get("/v1/database/migrations/run?pretend=true"), 400,
             "DBP-Q106")
    fid = project.write("seeders/roles.yaml", SEEDER)
    body = _ok(await project.client.post("/v1/database/seeder/run", data={"file_id": fid}))
    assert body["message"] == "Seeder executed"
    fid = project.write("factories/roles.yaml",
                        "table: roles\ncount: 3\ncolumns:\n  name: {sequence: 'r{n}'}\n")
    body = _ok(await project.client.post("/v1/database/factory/run", json={"file_id": fid}))
    assert body["message"] == "Factory created" and body["rows"] == 3
    # a form may override count too (-d file_id=... -d count=2)
    fid2 = project.write("factories/roles_form.yaml",
                         "table: roles\ncount: 9\ncolumns:\n  name: {sequence: 'f{n}'}\n")
    body = _ok(await project.client.post("/v1/database/factory/run",
                                         data={"file_id": fid2, "count": "2"}))
    assert body["rows"] == 2
    r = await project.client.post("/v1/database/factory/run",
                                  data={"file_id": fid2, "count": "many"})
    assert _problem(r, 422, "DBP-V100")["field"] == "count"
    assert "roles" not in project.tables()  # the registered database was not touched
    # a database's own folder overrides the shared one
    project.write("db/migrations/0001_own.up.sql", "CREATE TABLE own_table (id INTEGER);")
    body = _ok(await project.client.post(f"{D}/migrations/run"))
    assert [m["migration"] for m in body["applied"]] == ["0001_own"]
    # Redis: a 4xx naming the type
    r = await project.client.post("/v1/databases", json={"resource_id": "cache",
                                                         "url": redis_url})
    assert r.status_code == 201, r.text
    body = _problem(await project.client.post("/v1/databases/cache/migrations/run"), 400,
                    "DBP-V102")
    assert "redis" in body["detail"]


def test_file_ids_are_stable() -> None:
    assert file_id("factories/users.yaml") == file_id("factories/users.yaml")
    assert file_id("factories/users.yaml") != file_id("seeders/users.yaml")


# -- async: the same runs as operations ---------------------------------------------------


async def _ended(c: httpx.AsyncClient, r: httpx.Response) -> dict[str, Any]:
    """The operation of a 202 answer, once it has ended."""
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/operations/{r.json()['id']}"
    for _ in range(600):
        op: dict[str, Any] = (await c.get(r.headers["location"])).json()
        if op["status"] in ("done", "error", "canceled"):
            return op
        await asyncio.sleep(0.1)
    raise AssertionError(f"the operation did not end: {op}")


async def _operations(c: httpx.AsyncClient) -> int:
    return len((await c.get("/v1/operations", params={"database": "db"})).json()["operations"])


async def test_async_runs_answer_202_and_an_operation_with_the_same_body(
        project: Project) -> None:
    _base(project)
    c = project.client
    op = await _ended(c, await c.post(f"{D}/migrations/run", json={"async": True}))
    assert (op["type"], op["status"]) == ("routines.migrate", "done")
    assert op["result"]["message"] == "Migrations complete"
    assert [m["migration"] for m in op["result"]["applied"]] == ["0001_teams", "0002_players"]
    assert "players" in project.tables()
    # a factory: the result is the synchronous body; progress per batch, up to the end
    fid = project.write("factories/players.yaml", FACTORY)
    op = await _ended(c, await c.post(f"{D}/factory/run?async=true",
                                      json={"file_id": fid, "count": 4500}))
    assert op["status"] == "done", op
    assert op["result"] == {"status": "200", "message": "Factory created", "database": "db",
                            "file_id": fid, "path": "factories/players.yaml",
                            "table": "players", "rows": 4500}
    assert (op["progress"], op["message"]) == (1.0, "4500/4500 rows inserted")
    q = "SELECT name, email, score, role, team_id FROM players ORDER BY id"
    first = project.rows(q)
    with sync_engine(project.db) as engine, engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM players"))
    # the same seed synchronously: the same rows and the same body
    body = _ok(await c.post(f"{D}/factory/run", json={"file_id": fid, "count": 4500}))
    assert body == op["result"] and project.rows(q) == first
    # a seeder as a form, and a rollback
    project.write("migrations/0003_roles.up.sql", M3_UP)
    project.write("migrations/0003_roles.down.sql", M3_DOWN)
    _ok(await c.post(f"{D}/migrations/run"))
    sid = project.write("seeders/roles.yaml", SEEDER)
    op = await _ended(c, await c.post(f"{D}/seeder/run", data={"file_id": sid,
                                                                "async": "true"}))
    assert (op["result"]["message"], op["result"]["inserted"]) == ("Seeder executed", 2)
    op = await _ended(c, await c.post(f"{D}/migrations/rollback?async=1"))
    assert [m["migration"] for m in op["result"]["rolled_back"]] == ["0003_roles"]
    # refused before anything starts: a 4xx, no operation
    before = await _operations(c)
    bad = project.write("factories/bad.yaml", "table: players\ncolumns:\n  nope: name\n")
    _problem(await c.post(f"{D}/factory/run?async=true", json={"file_id": bad}), 422,
             "DBP-R105")
    _problem(await c.post(f"{D}/factory/run?async=maybe", json={"file_id": fid}), 400,
             "DBP-Q106")
    _problem(await c.post(f"{D}/factory/run?nope=1", json={"file_id": fid}), 400,
             "DBP-Q106")
    _problem(await c.post(f"{D}/migrations/run", json={"pretend": True, "async": True}),
             422, "DBP-V100")
    project.write("migrations/0001_teams.up.sql", M1_UP + "\n-- changed\n")
    _problem(await c.post(f"{D}/migrations/run", json={"async": True}), 409, "DBP-R301")
    assert await _operations(c) == before


async def test_a_canceled_async_factory_writes_nothing(project: Project) -> None:
    _base(project)
    c = project.client
    _ok(await c.post(f"{D}/migrations/run"))
    fid = project.write("factories/many.yaml",
                        "table: players\ncount: 1000000\ncolumns:\n"
                        "  name: {sequence: 'p{n}'}\n  email: {sequence: 'p{n}@x.org'}\n")
    r = await c.post(f"{D}/factory/run", json={"file_id": fid, "async": True})
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    for _ in range(300):
        op = (await c.get(location)).json()
        if op["status"] == "running" and op["progress"] > 0:
            break
        await asyncio.sleep(0.05)
    assert op["status"] == "running", op
    assert (await c.post(f"{location}/cancel")).status_code == 202
    op = await _ended(c, r)
    assert op["status"] == "canceled" and op["error"]["code"] == "DBP-O401", op
    assert project.rows("SELECT COUNT(*) FROM players") == [(0,)]
