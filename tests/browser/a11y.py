"""axe-core in the page: the violations a person with a screen reader, a keyboard or low
vision would run into. Serious and critical ones fail the tests; the rest are reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"

FAILING_IMPACTS = frozenset({"serious", "critical"})


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE_JS))
    result = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    assert result["testEngine"]["name"] == "axe-core" and result["passes"], "axe did not run"
    return list(result["violations"])


def describe(where: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{where}: [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {node['target']}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


async def serious_violations(page: Page, where: str) -> str:
    """'' when the page has no serious or critical violation, else their description.

    Moderate and minor ones are printed (visible with `pytest -s` or on failure)."""
    violations = await axe_violations(page)
    serious = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    lesser = [v for v in violations if v["impact"] not in FAILING_IMPACTS]
    if lesser:
        print(describe(where, lesser))
    return describe(where, serious)
