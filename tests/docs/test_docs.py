"""The documentation holds together: README.md is one page that links to docs/, every relative
link (and #anchor) resolves, every `make` target named exists, and the configuration page's table
and `service.config.Settings` name the same environment variables."""

import re
import unicodedata
from pathlib import Path

import pytest
from pydantic import AliasChoices, AliasPath

from service.config import Settings
from tests.infra.test_cost import STACK_TOTALS
from tests.support.makefile import make_targets

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)
MAKE = re.compile(r"(?<![\w-])make\s+(?:-n\s+)?([a-z][a-z0-9_-]*)")
ENV_NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code (where a link is a link)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def code(text: str) -> str:
    """Fenced code blocks and inline code spans: where commands are written."""
    return "\n".join(m.group(0) for m in (*FENCE.finditer(text), *INLINE_CODE.finditer(text)))


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text lowercased, punctuation other than '-'
    and '_' dropped, each space a '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = text.replace("`", "").lower()
    kept = "".join(
        ch
        for ch in text
        if ch in " -_" or unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "Mn"
    )
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor, with GitHub's -1, -2 … suffixes for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for _, heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = github_slug(heading)
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def relative_links(path: Path) -> list[str]:
    targets = LINK.findall(prose(path.read_text()))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def configuration_table() -> list[str]:
    """The environment variables the first column of the configuration table names."""
    lines = CONFIGURATION.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| variable |"))
    names = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        names.extend(ENV_NAME.findall(line.split("|")[1]))
    return names


def settings_variables() -> set[str]:
    """The environment variable of each Settings field: its alias (or validation aliases) when it
    has one, else its name upper-cased (no env_prefix)."""
    assert not Settings.model_config.get("env_prefix"), "the docs assume no prefix"
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias or name
        for choice in alias.choices if isinstance(alias, AliasChoices) else [alias]:
            if isinstance(choice, AliasPath):
                choice = choice.path[0]
            names.add(str(choice).upper())
    return names


# ---- the README is one page ----------------------------------------------------------------


def test_readme_fits_on_one_page():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines, at most {README_MAX_LINES}"


def test_readme_starts_with_make_dev_then_make_test():
    first_block = FENCE.search(README.read_text()).group(0).splitlines()[1:-1]
    commands = [line.split("#")[0].strip() for line in first_block]
    assert commands[:2] == ["make dev", "make test"], first_block


def test_readme_links_every_docs_page():
    linked = {(README.parent / t.split("#")[0]).resolve() for t in relative_links(README)}
    missing = [page_id(p) for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert missing == [], f"docs pages the README does not link: {missing}"


def test_readme_diagram_shows_the_whole_architecture_and_delivery():
    diagrams = "\n".join(re.findall(r"^```mermaid\n(.*?)^```", README.read_text(), re.M | re.S))
    expected = [
        "ALB", "WAF", "Fargate", "migrate", "worker", "EventBridge Scheduler", "dead-letter",
        "RDS PostgreSQL", "ElastiCache Redis", "NAT", "endpoint", "Secrets Manager", "ECR",
        "ci.yml", "preview.yml", "deploy.yml", "staging", "prod", "teardown-staging.yml",
        "review-stack.yml", "review-stack-janitor.yml", "drift.yml",
    ]  # fmt: skip
    missing = [name for name in expected if name not in diagrams]
    assert missing == [], f"not in README.md's mermaid diagrams: {missing}"


@pytest.mark.parametrize("stack", sorted(STACK_TOTALS))
def test_readme_cost_table_quotes_the_cost_tool(stack):
    table = README.read_text().split("## Cost per stack", 1)[1].split("\n## ", 1)[0]
    assert f"${STACK_TOTALS[stack]:.2f}" in table, f"{stack}: ${STACK_TOTALS[stack]:.2f} missing"


# ---- links and commands ---------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_relative_links_resolve(page):
    broken = []
    for target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor} in {page_id(resolved)}")
    assert broken == [], f"{page_id(page)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_make_targets_named_exist(page):
    named = set(MAKE.findall(code(page.read_text())))
    unknown = sorted(named - make_targets())
    assert unknown == [], f"{page_id(page)} names make targets the Makefile lacks: {unknown}"


def test_docs_pages_name_some_make_targets():
    """The extractor finds commands at all (an empty match would pass vacuously)."""
    named = {t for p in PAGES for t in MAKE.findall(code(p.read_text()))}
    assert {"dev", "test", "deploy", "bootstrap", "teardown", "bench"} <= named, named


# ---- configuration ------------------------------------------------------------------------


def test_configuration_table_names_only_settings():
    unknown = sorted(set(configuration_table()) - settings_variables())
    assert unknown == [], f"{page_id(CONFIGURATION)} documents variables Settings lacks: {unknown}"


def test_every_setting_is_documented():
    undocumented = sorted(settings_variables() - set(configuration_table()))
    assert undocumented == [], f"Settings fields not in {page_id(CONFIGURATION)}: {undocumented}"


def test_configuration_table_names_each_variable_once():
    names = configuration_table()
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert repeated == [], repeated


# ---- the helpers themselves -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Bootstrap (once per AWS account)", "bootstrap-once-per-aws-account"),
        ("Delivery: from a commit to prod", "delivery-from-a-commit-to-prod"),
        ("Scaling, alarms and WAF", "scaling-alarms-and-waf"),
        ("The `worker_run` -- step", "the-worker_run----step"),
    ],
)
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_repeated_headings_get_numbered_anchors(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# A\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n")
    assert anchors(page) == {"a", "notes", "notes-1"}


def test_links_in_code_are_not_links():
    text = "[a](a.md) `[b](b.md)`\n```\n[c](c.md)\n```\n[d](https://example.com) [e](e.md#x)\n"
    assert LINK.findall(prose(text)) == ["a.md", "https://example.com", "e.md#x"]
