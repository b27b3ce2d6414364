"""The commands' one progress display: a bar on a terminal, one line per step otherwise (logs, CI)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class CountingBar:
    """Counts ``total`` steps under ``label`` ("mirroring", "checking")."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.done = 0
        self.total = 0

    def start(self, total: int) -> None:
        self.total = total
        if self.console.is_terminal and total:
            columns = (TextColumn(self.label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self.bar = Progress(*columns, TextColumn("{task.description}"), console=self.console)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def step(self, description: str, line: str) -> None:
        """One step done: ``description`` beside the bar, or ``line`` printed with the count."""
        self.done += 1
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, description=description)
            if self.done == self.total:
                self.bar.stop()
        else:
            click.echo(f"[{self.done}/{self.total}] {line}", err=True)
