"""Taking a case back to an earlier step (退回, 撤回): the engine side.

The saved state is pruned (see state.py), so the earlier step's task is usually no longer in the
tree. We do not need it: a step can be entered afresh. Every live task is dropped and a new task for
the target element is put under the root of what is left, carrying the case's current data, so
the person redoing the step sees what was filled in before.

This is only sound where no join waits on the target's branch: the targets are the top-level steps
that are not inside a parallel or inclusive split (`safe_targets`, computed once per version).
"""

from __future__ import annotations

from copy import deepcopy

from SpiffWorkflow.util.task import TaskState

from engine.definitions.specs import is_user_step


def jump_to(workflow, element_id: str, data: dict) -> None:
    """Drop every live task and make `element_id` (a top-level step) the one to do next."""
    candidates = [s for s in workflow.spec.task_specs.values() if s.bpmn_id == element_id and is_user_step(s)]
    target = next((s for s in candidates if not s.manual), candidates[0])  # a multi-instance: its wrapper
    entry = next(
        (
            s
            for s in workflow.spec.task_specs.values()
            if type(s).__name__ == "BoundaryEventSplit" and target in s.outputs
        ),
        target,
    )
    root = workflow.task_tree
    for task in list(root):
        if task.id in workflow.subprocesses and task is not root:
            workflow.delete_subprocess(task)
    root._drop_children(force=True)
    root.data = deepcopy(data)
    workflow.last_task = root
    child = root._add_child(entry, TaskState.FUTURE)
    child.task_spec._update(child)  # a user task is READY now; a wrapper runs in the next engine step
    # Its successors are predicted as if it had been reached the usual way: completing it needs them.
    child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
