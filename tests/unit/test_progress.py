import pytest

from displacement_toolkit.core.progress import Monitor, OperationCancelled, ensure_monitor


def test_sub_monitors_map_fractions_into_the_parent_range():
    seen = []
    m = Monitor(progress=seen.append)
    m.sub(0.5, 1.0).sub(0.0, 0.5).update(0.5)
    assert seen == [pytest.approx(0.625)]


def test_cancel_raises_at_the_next_check():
    flag = {"stop": False}
    m = Monitor(is_cancelled=lambda: flag["stop"])
    m.update(0.1)
    flag["stop"] = True
    with pytest.raises(OperationCancelled):
        m.update(0.2)


def test_ensure_monitor_gives_a_silent_monitor():
    ensure_monitor(None).update(0.3)
    ensure_monitor(None).info("nothing happens")
