"""``--set STEP.OPTION=VALUE`` sets one step's option (short for ``steps.STEP.OPTION``); a bare option
name that is no parameter says which steps take it."""

from __future__ import annotations

import pytest

from synthloom.recipes.build import load_pipeline
from synthloom.recipes.loader import RecipeError


def step(loaded, name):
    return next(s for s in loaded.pipeline.steps if s.name == name)


def test_step_dot_option_and_the_long_form_set_the_same_option():
    short = load_pipeline("rest-em", sets=["sample.k=32"], check_models=False)
    long = load_pipeline("rest-em", sets=["steps.sample.k=32"], check_models=False)
    assert step(short, "sample").config["k"] == step(long, "sample").config["k"] == 32


def test_a_bare_option_name_points_at_the_steps_that_take_it():
    with pytest.raises(RecipeError) as e:
        load_pipeline("rest-em", sets=["k=32"], check_models=False)
    assert "no parameter 'k'" in str(e.value) and "--set sample.k=32" in str(e.value)


def test_an_unknown_step_is_still_an_error_with_a_suggestion():
    with pytest.raises(RecipeError, match="no step named 'sampel'"):
        load_pipeline("rest-em", sets=["steps.sampel.k=3"], check_models=False)
