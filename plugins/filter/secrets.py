# Copyright: (c) 2026, mutuapix.infra maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters over secrets; the rules live in module_utils/secrets.py (shared with the engine)."""

from __future__ import annotations

from ansible_collections.mutuapix.infra.plugins.module_utils.secrets import secret_weakness


class FilterModule:
    def filters(self):
        return {"secret_weakness": secret_weakness}
