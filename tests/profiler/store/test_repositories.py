"""`Store` keeps one connection and its lifecycle; its reads and writes are small repositories.

docs/architecture.md (the `store` row): each repository is one class with a handful of
public methods, reached as an attribute, and all of them share the store's connection.
"""

from pathlib import Path

from profiler.model.device import DeviceInfo
from profiler.model.run import RunKind
from profiler.store import Store
from profiler.store.transactions import Repository

REPOSITORIES = {
    "runs",
    "devices",
    "samples",
    "phases",
    "findings",
    "jobs",
    "attribution",
    "inventory",
    "housekeeping",
}


def public(obj: object) -> list[str]:
    return [name for name in dir(obj) if not name.startswith("_")]


def test_store_keeps_only_the_connection_and_its_lifecycle() -> None:
    assert set(public(Store)) == {"can_write", "close", "snapshot", "transaction"}


def test_each_repository_is_an_attribute_with_a_handful_of_public_methods(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "f.db") as store:
        found = {name: v for name, v in vars(store).items() if isinstance(v, Repository)}
        assert set(found) == REPOSITORIES
        for name, repository in found.items():
            assert 1 <= len(public(repository)) <= 10, (name, public(repository))


def test_the_repositories_read_through_the_store_connection(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with Store(db) as store:
        first = store.runs.create(RunKind.MONITOR)
        store.devices.add(first.id, [DeviceInfo("host", "host")])
    with Store(db) as reader, Store(db) as writer, reader.snapshot():
        assert [r.id for r in reader.runs.all()] == [first.id]
        second = writer.runs.create(RunKind.MONITOR)
        writer.devices.add(second.id, [DeviceInfo("host", "host")])
        # One read transaction on the store's connection covers every repository.
        assert [r.id for r in reader.runs.all()] == [first.id]
        assert reader.devices.for_run(second.id) == []
    with Store(db, read_only=True) as fresh:
        assert {r.id for r in fresh.runs.all()} == {first.id, second.id}
        assert len(fresh.devices.for_run(second.id)) == 1
