"""The constraint table: one declaration per hyper-parameter, from which validation,
the step config and the docstring's types follow; the shared trusted-mask check."""

import dataclasses
import inspect

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sk_ieg import IEGClassifier
from sk_ieg._validation import PARAMETERS, check_trusted_mask, validate_params
from sk_ieg.step import IEGConfig

SIGNATURE = inspect.signature(IEGClassifier.__init__).parameters
SKORCH_ONLY = {"self", "module", "args", "criterion", "train_split", "kwargs"}


def test_every_parameter_is_declared_once_in_the_table():
    ieg = set(SIGNATURE) - SKORCH_ONLY
    assert ieg == set(PARAMETERS) - {"compile"}  # compile is skorch's, with our constraint
    assert {f.name for f in dataclasses.fields(IEGConfig)} <= set(PARAMETERS)
    params = IEGClassifier().get_params()
    assert all(params[name] == SIGNATURE[name].default for name in ieg)


def test_the_docstring_types_come_from_the_table():
    doc = IEGClassifier.__doc__
    assert "@type" not in doc
    assert "    n_views : int >= 1, default=2\n" in doc
    assert "    ema_decay : float in [0, 1) or None, default=0.999\n" in doc
    assert '    meta_scope : {"all", "head"}, default="all"\n' in doc
    assert "    compile : bool, default=False\n" in doc
    for name in PARAMETERS:
        assert f"\n    {name} : " in doc, name


def test_the_step_config_follows_the_parameters():
    clf = IEGClassifier(n_views=3, meta_scope="head", mixup_size=8, consistency_weight=2.5,
                        meta_strength=0.25, relabel_strength=0.0)
    config = clf.step_config()
    assert (config.n_views, config.meta_scope, config.mixup_size, config.consistency_weight,
            config.meta_strength, config.relabel_strength) == (3, "head", 8, 2.5, 0.25, 0.0)
    # "auto" strengths start at the paper's full step
    assert IEGClassifier().step_config().meta_strength == 1.0
    assert IEGClassifier().step_config().relabel_strength == 1.0


@pytest.mark.parametrize("name, value, words", [
    ("n_views", 0, "range [1, inf)"),
    ("n_views", True, "an int"),
    ("batch_size", 2.0, "an int"),
    ("lr", -0.1, "range [0.0, inf)"),
    ("lr", "0.1", "a float"),
    ("lr", float("nan"), "a float"),
    ("temperature", 0, "range (0.0, inf)"),
    ("given_label_weight", 1.5, "range [0.0, 1.0]"),
    ("ema_decay", 1.0, "range [0.0, 1.0) or None"),
    ("relabel", 1, "bool"),
    ("compile", "yes", "bool"),
    ("policy", "rand", "among {'autoaugment', 'randaugment'} or None"),
    ("augmentation", "images", "or a callable"),
    ("mixup_size", 1, "range [2, inf) or None"),
    ("meta_strength", 1.5, "range [0.0, 1.0] or a str among {'auto'}"),
    ("relabel_strength", "half", "range [0.0, 1.0] or a str among {'auto'}"),
    ("probe_prior", "uniform", "among {'given', 'balanced', 'trusted'}"),
])
def test_bad_parameters_raise_errors_naming_them(name, value, words):
    clf = IEGClassifier(**{name: value})
    with pytest.raises(InvalidParameterError) as info:
        validate_params(clf)
    message = str(info.value)
    assert f"'{name}' parameter of IEGClassifier" in message and words in message, message
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_good_parameters_pass():
    validate_params(IEGClassifier(n_views=np.int64(3), lr=np.float32(0.05), ema_decay=None,
                                  augmentation=lambda x, strong, generator: x, policy=None))


def test_one_trusted_mask_check():
    assert check_trusted_mask([True, False], 2).dtype == bool
    with pytest.raises(ValueError, match=r"one entry per row.*\(3,\); got shape \(2,\)"):
        check_trusted_mask([True, False], 3)
    with pytest.raises(ValueError, match="X: trusted must be a boolean mask, got dtype int"):
        check_trusted_mask(np.array([1, 0]), 2, owner="X")
