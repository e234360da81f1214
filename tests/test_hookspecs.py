"""Meta-tests on the hook contract: every hook is specified, documented and implemented."""

from __future__ import annotations

import inspect

import metarr
import pytest
from metarr import hookspecs
from metarr.plugins import discover, make_plugin_manager, spec_of

SPEC_MARK = f"{hookspecs.PROJECT}_spec"


def module_specs() -> dict[str, object]:
    """The functions in `metarr.hookspecs` marked as hook specifications."""
    return {
        name: value
        for name, value in vars(hookspecs).items()
        if inspect.isfunction(value) and getattr(value, SPEC_MARK, None) is not None
    }


def test_hook_names_match_the_specs_exactly() -> None:
    assert sorted(hookspecs.HOOK_NAMES) == sorted(module_specs())
    assert len(set(hookspecs.HOOK_NAMES)) == len(hookspecs.HOOK_NAMES)


def test_the_plugin_manager_knows_every_hook() -> None:
    pm = make_plugin_manager()
    for name in hookspecs.HOOK_NAMES:
        assert getattr(pm.hook, name).spec is not None, name


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_every_hook_has_a_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc, f"hook {name} has no docstring"
    assert len(doc.splitlines()[0]) > 20, f"hook {name}: the first line should say what it returns"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_async_hooks_are_exactly_the_coroutine_specs(name: str) -> None:
    spec = getattr(hookspecs, name)
    assert inspect.iscoroutinefunction(spec) == (name in hookspecs.ASYNC_HOOKS)


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_no_hook_is_firstresult(name: str) -> None:
    # An async implementation returns a coroutine, never None: firstresult would be wrong.
    opts = getattr(getattr(hookspecs, name), SPEC_MARK)
    assert not opts.get("firstresult")


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_every_hook_is_implemented_by_a_bundled_plugin(name: str) -> None:
    implementers = [p.name for p in discover() if name in p.hooks]
    assert implementers, f"no installed plugin implements {name}"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_bundled_implementations_match_sync_or_async(name: str) -> None:
    for plugin in discover():
        if name in plugin.hooks:
            method = getattr(plugin.factory, name)
            assert inspect.iscoroutinefunction(method) == (name in hookspecs.ASYNC_HOOKS), (
                f"{plugin.name}.{name}"
            )


def test_hookimpl_is_exported() -> None:
    assert metarr.hookimpl is hookspecs.hookimpl


@pytest.mark.parametrize("name", ["fanart", "omdb", "tmdb", "tvdb"])
def test_bundled_plugins_have_valid_specs(name: str) -> None:
    [plugin] = [p for p in discover() if p.name == name]
    spec = spec_of(plugin)
    assert spec.hooks == plugin.hooks
    assert set(spec.hooks) >= {"lookup_by_id", "extract_ids", "field_priority"}
