"""What the engine reads off a parsed process spec: its start events, the timers a case waits on, the
steps a case may safely be taken back to, and each element's extension properties."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.definitions.vocabulary import Property
from engine.timing import duration


def start_event_specs(spec) -> list:
    """A process spec's start events, in document order."""
    return [
        task_spec
        for task_spec in spec.task_specs.values()
        if type(task_spec).__name__ == "StartEvent" and task_spec.bpmn_id
    ]


def timer_event_spec(task_spec):
    """The timer event a waiting task stands for: its own, or the timer among an event-based gateway's
    events (SpiffWorkflow moves them onto the gateway, in the order of its outputs); None if none."""
    definition = getattr(task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return task_spec
    for index, inner in enumerate(getattr(definition, "event_definitions", None) or ()):
        if isinstance(inner, TimerEventDefinition):
            return task_spec.outputs[index]
    return None


PARALLEL = {"ParallelGateway", "InclusiveGateway"}


def safe_targets(spec) -> frozenset[str]:
    """User tasks of the top-level process reachable from a start event outside any parallel region."""
    depth = parallel_depth(spec)
    return frozenset(
        s.bpmn_id for s in spec.task_specs.values() if s.bpmn_id and depth.get(s.name) == 0 and is_user_step(s)
    )


def parallel_depth(spec) -> dict[str, int]:
    """Task spec name -> how many parallel (or inclusive) sections it is inside."""
    depth: dict[str, int] = {}
    queue = [(s, 0) for s in spec.task_specs.values() if type(s).__name__ == "StartEvent"]
    while queue:
        task_spec, level = queue.pop(0)
        if task_spec.name in depth:
            continue
        depth[task_spec.name] = level
        after = level
        if type(task_spec).__name__ in PARALLEL:
            after -= 1 if len(task_spec.inputs) > 1 else 0
            after += 1 if len(task_spec.outputs) > 1 else 0
        queue.extend((out, max(after, 0)) for out in task_spec.outputs)
    return depth


def is_user_step(task_spec) -> bool:
    """A user task, or a multi-instance wrapper around one (entered again as a whole)."""
    return task_spec.manual or getattr(getattr(task_spec, "task_spec", None), "manual", False)


def element_spec(spiff_task):
    """The diagram's element: an instance of a multi-instance task has a copy without lane or form."""
    spec = spiff_task.task_spec
    parent = spiff_task.parent
    if spec.lane is None and parent is not None and parent.task_spec.bpmn_id == spec.bpmn_id:
        return parent.task_spec
    return spec


def properties(spec) -> dict:
    return (getattr(spec, "extensions", None) or {}).get("properties", {})


def due_at(props: dict, ready_at):
    """A step's deadline: its `dueIn` (ISO 8601 duration) from when it became ready."""
    value = (props.get(Property.DUE_IN) or "").strip()
    return ready_at + duration(value) if value else None
