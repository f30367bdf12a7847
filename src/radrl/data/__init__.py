"""Data: the sample contract, section splitting, and loaders for the real datasets."""

from radrl.data.loaders import (
    DataError,
    LoadReport,
    load_chexpert_plus,
    load_openi,
    load_r2gen,
    load_records,
)
from radrl.data.sample import Sample
from radrl.data.sections import Sections, join_sections, split_sections

__all__ = [
    "DataError",
    "LoadReport",
    "Sample",
    "Sections",
    "join_sections",
    "load_chexpert_plus",
    "load_openi",
    "load_r2gen",
    "load_records",
    "split_sections",
]
