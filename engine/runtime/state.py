"""Saving and loading a running workflow without its history.

SpiffWorkflow keeps every task it ever ran in its tree, so a case with many rejection loops gets
slower at every step. Completed history is already in the `event` table; what the engine needs to
go on is the subtree under the lowest common ancestor of the unfinished tasks (joins only look at
their own branches below the split). We save that subtree, without the spec (cached per version),
so what is saved per step does not grow with the case's history.
"""

from __future__ import annotations

import json
import threading
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine.definitions.cache import CompiledVersion
from engine.runtime.script_functions import SCRIPT_FUNCTIONS
from engine.scripting import script_engine

FORMAT = "itsm-bpm/1"


class _StateConverter(BpmnWorkflowConverter):
    """The workflow without `spec`/`subprocess_specs`: those come from the version cache."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _StateConverter
    registry = BpmnWorkflowSerializer.configure(config)
    return BpmnWorkflowSerializer(registry)


# The registry keeps per-call mode flags, so each thread of a threaded server gets its own.
_LOCAL = threading.local()
_ENGINE = script_engine(SCRIPT_FUNCTIONS)


def _serializer() -> BpmnWorkflowSerializer:
    if not hasattr(_LOCAL, "serializer"):
        _LOCAL.serializer = _make_serializer()
    return _LOCAL.serializer


def new_workflow(compiled: CompiledVersion, start_event: str | None = None, data: dict | None = None) -> BpmnWorkflow:
    """A new case, started at one start event (the others are cancelled): by hand at the none start
    event, by the scheduler at a timer start event, by another case at a message start event.
    The engine, not SpiffWorkflow's clock or event routing, decides that the start event has fired."""
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=_ENGINE)
    root = workflow.get_tasks(state=TaskState.READY)[0]
    root.data.update(data or {})
    root.run()
    starts = list(root.children)
    if len(starts) == 1 and type(starts[0].task_spec).__name__ == "StartEventSplit":
        starts[0].run()  # several start events: SpiffWorkflow puts a split above them
        starts = list(starts[0].children)
    for task in starts:
        if task.task_spec.bpmn_id == start_event:
            if isinstance(getattr(task.task_spec, "event_definition", None), CycleTimerEventDefinition):
                # SpiffWorkflow adds a branch per cycle that has come round; a case starts once, now.
                task._drop_children(force=True)
                for output in task.task_spec.outputs:
                    child = task._add_child(output, TaskState.FUTURE)
                    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
            task._set_internal_data(event_fired=True)
            task.task_spec._update(task)
        else:
            task.cancel()
    return workflow


def prune(workflow: BpmnWorkflow) -> None:
    """Drop every finished task that is not below the lowest common ancestor of the live ones."""
    live = [
        t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK) or t.has_state(TaskState.ERROR)
    ]
    if not live:
        return
    ancestors = _path_to_root(live[0])
    common = set(ancestors)
    for task in live[1:]:
        common.intersection_update(_path_to_root(task))
    new_root = next(t for t in ancestors if t in common)  # deepest common ancestor
    if new_root.parent is not None:  # keep its parent: a waiting event inherits data from it
        new_root = new_root.parent
    if new_root is workflow.task_tree:
        return
    keep = {t.id for t in _subtree(new_root)}
    dropped = [tid for tid in workflow.tasks if tid not in keep]
    for tid in dropped:
        del workflow.tasks[tid]
        workflow.subprocesses.pop(tid, None)
    workflow.task_tree = new_root
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = None


def _path_to_root(task):
    path = []
    while task is not None:
        path.append(task)
        task = task.parent
    return path


def _subtree(task):
    stack = [task]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def dump(workflow: BpmnWorkflow) -> str | None:
    if workflow.completed:
        return None
    prune(workflow)
    serializer = _serializer()
    serializer.registry._encoder_mode = True
    try:
        dct = serializer.to_dict(workflow)
    finally:
        serializer.registry._encoder_mode = False
    dct["format"] = FORMAT
    return json.dumps(dct, cls=serializer._encoder_cls, ensure_ascii=False, separators=(",", ":"))


def load(state: str | None, compiled: CompiledVersion) -> BpmnWorkflow:
    if state is None:
        raise ValueError("the case has no saved workflow state")
    dct = json.loads(state)
    if dct.pop("format", None) != FORMAT:
        raise ValueError("unknown workflow state format")
    workflow = _serializer().registry.restore(dct, spec=compiled.spec, subprocess_specs=compiled.subprocess_specs)
    workflow.script_engine = _ENGINE
    return workflow
