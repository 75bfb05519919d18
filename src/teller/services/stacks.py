"""Admin /debug/stacks (with `profile` on): what every task and thread is doing right now.

The counterpart of the original's gops: an operator's look inside a process that seems stuck.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback


def all_stacks() -> str:
    """Stacks of every asyncio task and every thread, as plain text."""
    lines = []
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        tasks = set()
    for task in sorted(tasks, key=lambda t: t.get_name()):
        lines.append(f"task {task.get_name()}:")
        for frame in task.get_stack():
            lines.extend("    " + s.rstrip() for s in traceback.format_stack(frame, limit=1))
    frames = sys._current_frames()
    for thread in threading.enumerate():
        lines.append(f"thread {thread.name} (ident {thread.ident}):")
        thread_frame = frames.get(thread.ident or -1)
        if thread_frame is not None:
            lines.extend("    " + s.rstrip() for s in traceback.format_stack(thread_frame))
    return "\n".join(lines) + "\n"
