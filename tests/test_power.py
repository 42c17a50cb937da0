"""The power calculation behind the course's confirmatory seeds (hslib.power)."""
import pytest

from hslib.power import power, seeds_needed, smallest_detectable


def test_power_matches_the_published_value_for_a_paired_t_test():
    # G*Power, "t tests - means: difference from constant (one sample case)", two tails, d = 1, α = 0.05,
    # n = 10: power 0.8031; n = 5: 0.4013.
    assert power(1.0, 10, 0.05) == pytest.approx(0.8031, abs=5e-4)
    assert power(1.0, 5, 0.05) == pytest.approx(0.4013, abs=5e-4)
    assert power(-1.0, 10, 0.05) == power(1.0, 10, 0.05)  # two-sided
    assert power(0.0, 10, 0.05) == pytest.approx(0.05, abs=1e-9)  # no effect: the level itself


def test_seeds_needed_and_smallest_detectable_effect_invert_each_other():
    assert seeds_needed(1.0, 0.05) == 10
    a = 0.05 / 7  # Holm's first step in a family of seven
    n = seeds_needed(1.2, a)
    assert power(1.2, n, a) >= 0.8 > power(1.2, n - 1, a)
    d = smallest_detectable(10, a)
    assert power(d, 10, a) == pytest.approx(0.8, abs=1e-6)
    assert seeds_needed(0.05, a, most=50) is None


@pytest.mark.parametrize("kw, message", [({"n": 1}, r"n=1 is not allowed"), ({"alpha": 0}, r"alpha=0 is not allowed")])
def test_bad_inputs_name_the_parameter(kw, message):
    args = {"d_z": 1.0, "n": 10, "alpha": 0.05, **kw}
    with pytest.raises(ValueError, match=message):
        power(**args)
