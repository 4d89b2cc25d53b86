"""Orchestration: what starts or advances a case as a consequence of something else — a timer or a
deadline falling due, a draft proposed for change approval — and the scheduler that ticks. Flows call
the runtime and the definitions; nothing below them calls a flow (the import-linter contracts in
pyproject.toml say so). A case that another case's step asks for (`start:<key>`) is not a flow: the
step answers it to its caller in the runtime (engine/runtime/instances.py `advance_and_start`)."""
