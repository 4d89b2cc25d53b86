"""Orchestration: what starts or advances a case as a consequence of something else — a timer or a
deadline falling due, a `start:<key>` message thrown by another case, a draft proposed for change
approval — and the scheduler that ticks. Flows call the runtime and the definitions; nothing below
them calls a flow (the import-linter contracts in pyproject.toml say so)."""

from engine.flows import messages  # noqa: F401 (installs the case starter the runtime calls)
