"""The one error a study raises for bad input or an inconsistent study directory."""

from __future__ import annotations


class StudyError(ValueError):
    """Bad study input (``--vary``, ``--target``, policy file, study directory); the message says
    which field or file and what was expected."""
