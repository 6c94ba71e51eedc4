"""Evaluation: score answers against gold question files, answer files in batch, write and compare run reports.
"""
from __future__ import annotations
