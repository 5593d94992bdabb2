"""The op registry and the conformance suite cover the same op set.

Every public (non-"internal") registry op has a conformance case; every case exercises a
registry op or a function listed in cases.COMPOSITES; and every op of API.md has a case.
"""
from __future__ import annotations

from .cases import API_OPS, CASES, COMPOSITES, SYNTAX


def _registry():
    from kiln.ir.opdef import REGISTRY

    return REGISTRY


def _fmt(names) -> str:
    return ", ".join(sorted(names)) or "-"


def test_every_public_registry_op_has_a_case() -> None:
    registry = _registry()
    public = {name for name, op in registry.items() if "internal" not in op.traits}
    covered = {case.op for case in CASES.values()}
    missing = public - covered
    assert not missing, (
        f"registry ops without a conformance case in tests/ops/cases.py: {_fmt(missing)}\n"
        "add a Case for each (or give the op the 'internal' trait if users cannot reach it directly)")


def test_every_case_is_a_registry_op_or_a_composite() -> None:
    registry = _registry()
    unknown = {case.op for case in CASES.values()} - set(registry) - COMPOSITES
    assert not unknown, (
        f"conformance cases that are neither registry ops nor listed in cases.COMPOSITES: {_fmt(unknown)}\n"
        "either the op is missing from the registry, or it is built from other ops and belongs in COMPOSITES")


def test_composites_are_not_internal_registry_ops() -> None:
    registry = _registry()
    clash = {n for n in COMPOSITES if n in registry and "internal" in registry[n].traits}
    assert not clash, f"COMPOSITES names internal registry ops (users cannot call those): {_fmt(clash)}"


def test_registry_op_names_match_their_keys() -> None:
    registry = _registry()
    wrong = {k for k, op in registry.items() if op.name != k}
    assert not wrong, f"registry keys whose OpDef.name differs: {_fmt(wrong)}"


def test_every_api_op_and_syntax_form_has_a_case() -> None:
    covered = {case.op for case in CASES.values()}
    missing_ops = API_OPS - covered
    missing_syntax = SYNTAX - set(CASES)
    assert not missing_ops and not missing_syntax, (
        f"API.md ops without a case: {_fmt(missing_ops)}; operator/method forms without a case: "
        f"{_fmt(missing_syntax)}")


def test_every_composite_has_a_case() -> None:
    stale = COMPOSITES - {case.op for case in CASES.values()}
    assert not stale, f"cases.COMPOSITES lists names with no case: {_fmt(stale)}"
