import numpy as np
import pytest

from displacement_toolkit.core import units


def test_length_conversions():
    assert units.unit_factor("m", "mm") == pytest.approx(1000.0)
    assert units.unit_factor("mm", "cm") == pytest.approx(0.1)
    assert units.convert(np.array([1.5]), "cm", "m")[0] == pytest.approx(0.015)


def test_velocity_conversions_and_aliases():
    assert units.unit_factor("mm/year", "m/yr") == pytest.approx(0.001)
    assert units.normalize_unit("Metres") == "m"
    assert units.is_velocity_unit("cm/yr")
    assert not units.is_velocity_unit("cm")


def test_displacement_and_velocity_do_not_mix():
    with pytest.raises(ValueError, match="displacement"):
        units.unit_factor("m", "m/yr")


def test_unknown_unit_names_the_choices():
    with pytest.raises(ValueError, match="mm/yr"):
        units.normalize_unit("furlong")
