"""sk_ieg: neural networks that stay accurate when most training labels are wrong.

An implementation of IEG (Zhang et al., "Distilling Effective Supervision from
Severe Label Noise", CVPR 2020) as a scikit-learn compatible skorch estimator.
"""

from sk_ieg.cleaning import CleanLabelsClassifier, find_label_issues, label_issues_table
from sk_ieg.estimator import SPEED_SETTING, IEGClassifier
from sk_ieg.model_selection import (
    TrustedStratifiedKFold,
    make_trusted_scorer,
    trusted_accuracy_scorer,
)

__all__ = [
    "CleanLabelsClassifier",
    "IEGClassifier",
    "SPEED_SETTING",
    "TrustedStratifiedKFold",
    "__version__",
    "find_label_issues",
    "label_issues_table",
    "make_trusted_scorer",
    "trusted_accuracy_scorer",
]
__version__ = "0.1.0"
