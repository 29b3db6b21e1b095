# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible-facing helpers shared by the modules (only modules import this file).

The engine raises MutuapixError; this is the one place that turns it into ``fail_json``.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib

from .errors import MutuapixError


def fail_on_missing_libs(module, libraries) -> None:
    """``libraries``: iterable of (name, import_error_traceback_or_None); fail for the first missing."""
    for name, import_traceback in libraries:
        if import_traceback is not None:
            module.fail_json(msg=missing_required_lib(name), exception=import_traceback)


def fail_from_engine(module, error: MutuapixError, **result) -> None:
    """Report an engine error once, with its evidence, plus whatever partial result is worth keeping."""
    module.fail_json(**{**result, **error.to_dict()})
