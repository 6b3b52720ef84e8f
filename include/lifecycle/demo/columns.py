"""Column builders that keep NULLs as NULLs on both engines (pandas masked arrays, categoricals)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lifecycle.demo.seasons import to_timestamps


def ints_or_null(
    values: np.ndarray, present: np.ndarray, dtype: str = "int64"
) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.IntegerArray(np.asarray(values).astype(dtype), ~np.asarray(present, dtype=bool))


def floats_or_null(values: np.ndarray, present: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.FloatingArray(np.asarray(values, dtype="float64"), ~np.asarray(present, dtype=bool))


def timestamps_or_null(seconds: np.ndarray, present: np.ndarray) -> np.ndarray:
    stamps = to_timestamps(seconds)
    stamps[~np.asarray(present, dtype=bool)] = np.datetime64("NaT")
    return stamps


def labels(codes: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    """Text columns with few distinct values, stored as codes (-1 = NULL): cheap to build and to load."""
    return pd.Categorical.from_codes(np.asarray(codes).astype("int64"), list(names))
