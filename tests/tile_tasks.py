"""Test helper: tasks cut in tiles of columns (core.execution.task_windows with a small
budget) and a record of the blocks the tasks compressed (core.tiles.encode_tiles)."""

from displacement_toolkit.core import execution, tiles


def tile_column_tasks(monkeypatch, budget: int = 2 ** 20):
    """``(windows, packed, small_budget)``: ``small_budget`` replaces an algorithm module's
    ``task_windows`` so that its tasks fit ``budget`` bytes (tiles of columns on a grid a few
    tiles wide) and appends each call's windows to ``windows``; every block compressed in a
    task is recorded in ``packed`` as ``(row, col)``."""
    windows, packed = [], []

    def small_budget(*args, **kwargs):
        windows.append(execution.task_windows(*args, budget=budget))
        return windows[-1]

    encode = tiles.encode_tiles

    def recording_encode(block, row, width, height, col=0):
        packed.append((row, col))
        return encode(block, row, width, height, col)

    monkeypatch.setattr(tiles, "encode_tiles", recording_encode)
    return windows, packed, small_budget
