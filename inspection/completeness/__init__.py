"""Injected lenses and the completeness they measure (issue 18)."""
