"""The experiment itself, pure and offline: scenario files, the acrostic rule, scoring, training data, the judge rubric, generated examples, prices."""
