"""Read models of procedures for the API and the pages: the live procedures, one procedure with its
versions, the roles a lane may name, the cases a migration could move."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.definitions import deploy as deployment
from engine.store.db import fits_32_bits
from engine.store.models import Instance, InstanceStatus, ProcessDefinition, ProcessDraft, ProcessVersion, Role


def summary(definition: ProcessDefinition, version: ProcessVersion) -> dict:
    return {
        "key": definition.key,
        "name": definition.name,
        "version": version.version,
        "owner_role": definition.owner_role,
        "category": definition.category,
        "deployed_at": version.deployed_at,
    }


def live_versions(session: Session) -> list[tuple[ProcessDefinition, ProcessVersion]]:
    """Every procedure with its live version, by category then key."""
    rows = session.execute(
        select(ProcessDefinition, ProcessVersion)
        .join(
            ProcessVersion,
            (ProcessVersion.process_key == ProcessDefinition.key)
            & (ProcessVersion.version == ProcessDefinition.latest_version),
        )
        .order_by(ProcessDefinition.category, ProcessDefinition.key)
    )
    return [(d, v) for d, v in rows]


def live_processes(session: Session) -> list[dict]:
    """Every procedure with its live version, by category."""
    return [summary(d, v) for d, v in live_versions(session)]


def definition(session: Session, key: str) -> ProcessDefinition | None:
    return session.get(ProcessDefinition, key)


def process_detail(session: Session, key: str) -> dict:
    """The live version's summary, its forms, and every version (404 for an unknown procedure)."""
    version = deployment.get_version(session, key)
    found = definition(session, key)
    assert found is not None  # a deployed version always has its definition
    versions = session.execute(
        select(ProcessVersion.version, ProcessVersion.deployed_at, ProcessVersion.note)
        .where(ProcessVersion.process_key == key)
        .order_by(ProcessVersion.version)
    )
    return {
        **summary(found, version),
        "forms": sorted(version.forms or {}),
        "versions": [{"version": v, "deployed_at": at.isoformat(), "note": note} for v, at, note in versions],
    }


def roles(session: Session) -> list[Role]:
    """The role codes a lane may name."""
    return list(session.scalars(select(Role).order_by(Role.code)))


def draft_exists(session: Session, draft_id: int) -> bool:
    return fits_32_bits(draft_id) and session.get(ProcessDraft, draft_id) is not None


def migratable_cases(session: Session, key: str, live: ProcessVersion) -> list:
    """Running (or failed) cases of the procedure on a version older than the live one:
    (id, title, version, created_at) rows, oldest case first."""
    return list(
        session.execute(
            select(Instance.id, Instance.title, ProcessVersion.version, Instance.created_at)
            .join(ProcessVersion, ProcessVersion.id == Instance.version_id)
            .where(
                Instance.process_key == key,
                Instance.status.in_((InstanceStatus.RUNNING, InstanceStatus.ERROR)),
                ProcessVersion.version < live.version,
            )
            .order_by(Instance.id)
        ).all()
    )
